public import Errors
import Crypto
import Foundation
import Tensors

/// The shallow layers of a BERT sentence encoder (all-MiniLM-L6-v2): BAHE's atom encoder.
///
/// `x(text)` = the first `layers` encoder layers over the token embeddings, averaged over every token of the
/// input ([CLS] and [SEP] included), then L2-normalised. `layers = 0` pools the embedding layer's output.
///
/// Batches are **packed**, not padded: the tokens of every text in a batch are rows of one matrix, so each
/// dense layer (Q/K/V, attention output, the two feed-forward layers) is one BLAS product over all of them;
/// attention runs per text and head on that text's own rows. This is exactly a padded batch with a padding
/// mask (a masked key gets weight exp(−∞) = 0), without computing the pads.
public final class MiniLM: @unchecked Sendable {
    public struct Config: Sendable, Equatable {
        public var hidden = 384, layers = 6, heads = 12, intermediate = 1536, maxPositions = 512, typeVocabulary = 2
        public var vocabularySize = 30522
        public var layerNormEps: Float = 1e-12
    }

    struct Layer {
        var query, queryBias, key, keyBias, value, valueBias: [Float]
        var attentionOut, attentionOutBias, attentionNormWeight, attentionNormBias: [Float]
        var intermediate, intermediateBias, output, outputBias, outputNormWeight, outputNormBias: [Float]
    }

    public let config: Config
    public let tokenizer: WordPieceTokenizer
    public let folder: String
    /// SHA-256 of model.safetensors then vocab.txt: text vectors cached in a store carry it.
    public let fingerprint: [UInt8]
    let wordEmbeddings, positionEmbeddings, typeEmbeddings, embeddingNormWeight, embeddingNormBias: [Float]
    let encoderLayers: [Layer]

    /// A text model folder with a file missing (`notFound`) or not what all-MiniLM-L6-v2 needs (`damaged`).
    /// Loads `config.json`, `vocab.txt` and `model.safetensors` from `folder`, checking every tensor's shape
    /// against the configuration; every error names the file (and the tensor).
    public init(folder: String) throws {
        let configPath = folder + "/config.json", vocabPath = folder + "/vocab.txt",
            weightsPath = folder + "/model.safetensors"
        for path in [configPath, vocabPath, weightsPath] where !FileManager.default.fileExists(atPath: path) {
            throw LifelongError(
                .notFound,
                message:
                    "\(path): missing (the text model folder needs config.json, vocab.txt and model.safetensors; "
                    + "Tools/setup.sh fetches all-MiniLM-L6-v2)"
            )
        }
        self.folder = folder
        config = try Self.readConfig(configPath)
        tokenizer = try WordPieceTokenizer(vocabularyFile: vocabPath)
        let file = try Safetensors(contentsOf: weightsPath)
        let c = config
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let t = file.tensors[name] else {
                throw LifelongError(.damaged, message: "\(weightsPath): tensor '\(name)' is missing")
            }
            guard t.shape == shape else {
                throw LifelongError(
                    .damaged,
                    message: "\(weightsPath): tensor '\(name)' has shape \(t.shape), config.json implies \(shape)")
            }
            return try file.floats(name)
        }
        let h = c.hidden
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        typeEmbeddings = try tensor("embeddings.token_type_embeddings.weight", [c.typeVocabulary, h])
        embeddingNormWeight = try tensor("embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try tensor("embeddings.LayerNorm.bias", [h])
        var layers: [Layer] = []
        for l in 0..<c.layers {
            let p = "encoder.layer.\(l)."
            layers.append(
                Layer(
                    query: try tensor(p + "attention.self.query.weight", [h, h]),
                    queryBias: try tensor(p + "attention.self.query.bias", [h]),
                    key: try tensor(p + "attention.self.key.weight", [h, h]),
                    keyBias: try tensor(p + "attention.self.key.bias", [h]),
                    value: try tensor(p + "attention.self.value.weight", [h, h]),
                    valueBias: try tensor(p + "attention.self.value.bias", [h]),
                    attentionOut: try tensor(p + "attention.output.dense.weight", [h, h]),
                    attentionOutBias: try tensor(p + "attention.output.dense.bias", [h]),
                    attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                    attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                    intermediate: try tensor(p + "intermediate.dense.weight", [c.intermediate, h]),
                    intermediateBias: try tensor(p + "intermediate.dense.bias", [c.intermediate]),
                    output: try tensor(p + "output.dense.weight", [h, c.intermediate]),
                    outputBias: try tensor(p + "output.dense.bias", [h]),
                    outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
                    outputNormBias: try tensor(p + "output.LayerNorm.bias", [h])))
        }
        encoderLayers = layers
        guard tokenizer.vocabulary.count <= c.vocabularySize else {
            throw LifelongError(
                .damaged,
                message:
                    "\(vocabPath): \(tokenizer.vocabulary.count) pieces, but config.json says vocab_size "
                    + "\(c.vocabularySize)"
            )
        }
        var hasher = SHA256()
        for path in [weightsPath, vocabPath] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
            hasher.update(data: data)
        }
        fingerprint = Array(hasher.finalize())
    }

    /// Where Tools/setup.sh puts a data file: `$LIFELONG_DATA/NAME`, or `Data/NAME` from the working folder.
    public static func setupFolder(_ name: String) -> String {
        (ProcessInfo.processInfo.environment["LIFELONG_DATA"] ?? "Data") + "/" + name
    }

    /// The text model set-up fetches: all-MiniLM-L6-v2.
    public static var defaultFolder: String { setupFolder("all-MiniLM-L6-v2") }

    /// The content hash a text atom is cached under: SHA-256 of its UTF-8 bytes.
    public static func textHash(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Data(text.utf8))) }

    static func readConfig(_ path: String) throws -> Config {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw LifelongError(.damaged, message: "\(path): not readable JSON (\(error.localizedDescription))")
        }
        guard let o = object as? [String: Any] else {
            throw LifelongError(.damaged, message: "\(path): not a JSON object")
        }
        func int(_ key: String) throws -> Int {
            guard let v = o[key] as? NSNumber, v.intValue > 0 else {
                throw LifelongError(.damaged, message: "\(path): '\(key)' is missing or not a positive integer")
            }
            return v.intValue
        }
        var c = Config()
        c.hidden = try int("hidden_size"); c.layers = try int("num_hidden_layers");
        c.heads = try int("num_attention_heads")
        c.intermediate = try int("intermediate_size"); c.maxPositions = try int("max_position_embeddings")
        c.typeVocabulary = try int("type_vocab_size"); c.vocabularySize = try int("vocab_size")
        if let eps = o["layer_norm_eps"] as? NSNumber { c.layerNormEps = eps.floatValue }
        if let act = o["hidden_act"] as? String, act != "gelu" {
            throw LifelongError(
                .damaged, message: "\(path): hidden_act '\(act)' is not supported (only 'gelu', the erf form)")
        }
        guard c.hidden % c.heads == 0 else {
            throw LifelongError(
                .damaged,
                message: "\(path): hidden_size \(c.hidden) is not a multiple of num_attention_heads \(c.heads)")
        }
        return c
    }

    /// What one text gives: its token ids, and the mean of the chosen layer's hidden states over its tokens
    /// (`mean`) and that mean L2-normalised (`vector`, the atom `x(text)`).
    public struct Embedding: Sendable {
        public var ids: [Int32]
        public var mean: [Float]
        public var vector: [Float]
    }

    /// Embeds `texts` with the first `layers` encoder layers, `batchTokens` tokens per packed batch at most.
    public func embed(_ texts: [String], layers: Int, batchTokens: Int = 4096) throws -> [Embedding] {
        guard (0...config.layers).contains(layers) else {
            throw LifelongError(
                .damaged,
                message: "--layers \(layers): the text model has \(config.layers) layers (0…\(config.layers))")
        }
        let ids = texts.map { tokenizer.ids($0) }
        var out: [Embedding] = []
        out.reserveCapacity(texts.count)
        var start = 0
        while start < ids.count {
            var end = start, tokens = 0
            while end < ids.count, end == start || tokens + ids[end].count <= batchTokens {
                tokens += ids[end].count; end += 1
            }
            let means = forward(Array(ids[start..<end]), layers: layers)
            for (i, mean) in means.enumerated() {
                let norm = max(mean.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-12)
                out.append(Embedding(ids: ids[start + i], mean: mean, vector: mean.map { Float(Double($0) / norm) }))
            }
            start = end
        }
        return out
    }

    /// The packed forward pass over `batch` (token ids per text); returns each text's mean hidden state.
    func forward(_ batch: [[Int32]], layers: Int) -> [[Float]] {
        let c = config, h = c.hidden, dh = h / c.heads
        let n = batch.reduce(0) { $0 + $1.count }
        let maxT = batch.map(\.count).max() ?? 0
        var x = embed(batch, tokens: n)
        var q = x, k = x, v = x, context = x, tmp = x
        var inner = [Float](repeating: 0, count: n * c.intermediate)
        var scores = [Float](repeating: 0, count: maxT * maxT)
        let scale = 1 / Float(dh).squareRoot()
        for layer in encoderLayers.prefix(layers) {
            Self.linear(x, rows: n, inWidth: h, weight: layer.query, bias: layer.queryBias, outWidth: h, into: &q)
            Self.linear(x, rows: n, inWidth: h, weight: layer.key, bias: layer.keyBias, outWidth: h, into: &k)
            Self.linear(x, rows: n, inWidth: h, weight: layer.value, bias: layer.valueBias, outWidth: h, into: &v)
            attend(batch, q: q, k: k, v: v, scale: scale, scores: &scores, into: &context)
            Self.linear(
                context, rows: n, inWidth: h, weight: layer.attentionOut, bias: layer.attentionOutBias, outWidth: h,
                into: &tmp)
            for i in 0..<(n * h) { tmp[i] += x[i] }
            Self.layerNorm(
                &tmp, rows: n, width: h, weight: layer.attentionNormWeight, bias: layer.attentionNormBias,
                eps: c.layerNormEps)
            swap(&x, &tmp)  // x = attention block output
            Self.linear(
                x, rows: n, inWidth: h, weight: layer.intermediate, bias: layer.intermediateBias,
                outWidth: c.intermediate, into: &inner)
            for i in 0..<inner.count { inner[i] = Self.gelu(inner[i]) }
            Self.linear(
                inner, rows: n, inWidth: c.intermediate, weight: layer.output, bias: layer.outputBias, outWidth: h,
                into: &tmp)
            for i in 0..<(n * h) { tmp[i] += x[i] }
            Self.layerNorm(
                &tmp, rows: n, width: h, weight: layer.outputNormWeight, bias: layer.outputNormBias, eps: c.layerNormEps
            )
            swap(&x, &tmp)
        }
        // Mean over each text's tokens, accumulated in Double.
        var means: [[Float]] = []
        var first = 0
        for ids in batch {
            var sum = [Double](repeating: 0, count: h)
            for r in first..<(first + ids.count) { for j in 0..<h { sum[j] += Double(x[r * h + j]) } }
            means.append(sum.map { Float($0 / Double(ids.count)) })
            first += ids.count
        }
        return means
    }

    /// The word, position and token-type-0 embeddings of every token of the batch, then LayerNorm.
    private func embed(_ batch: [[Int32]], tokens n: Int) -> [Float] {
        let c = config, h = c.hidden
        var x = [Float](repeating: 0, count: n * h)
        var row = 0
        for ids in batch {
            for (t, id) in ids.enumerated() {
                let word = Int(id) < c.vocabularySize ? Int(id) : Int(tokenizer.unknown)
                for j in 0..<h {
                    x[row * h + j] =
                        wordEmbeddings[word * h + j] + positionEmbeddings[min(t, c.maxPositions - 1) * h + j]
                        + typeEmbeddings[j]
                }
                row += 1
            }
        }
        Self.layerNorm(&x, rows: n, width: h, weight: embeddingNormWeight, bias: embeddingNormBias, eps: c.layerNormEps)
        return x
    }

    /// Self-attention per text and head, on the text's own rows of the packed batch: `context = softmax(q kᵀ ·
    /// scale) v`.
    private func attend(
        _ batch: [[Int32]], q: [Float], k: [Float], v: [Float], scale: Float, scores: inout [Float],
        into context: inout [Float]
    ) {
        let c = config, h = c.hidden, dh = h / c.heads
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    context.withUnsafeMutableBufferPointer { cp in
                        scores.withUnsafeMutableBufferPointer { sp in
                            var first = 0
                            for ids in batch {
                                let t = ids.count
                                for head in 0..<c.heads {
                                    let offset = first * h + head * dh
                                    BLAS.gemm(
                                        t, t, dh, alpha: scale, a: qp.baseAddress! + offset, lda: h,
                                        b: kp.baseAddress! + offset, ldb: h,
                                        transposeB: true, into: sp.baseAddress!, ldc: t)
                                    for i in 0..<t { Self.softmax(sp.baseAddress! + i * t, t) }
                                    BLAS.gemm(
                                        t, dh, t, a: sp.baseAddress!, lda: t, b: vp.baseAddress! + offset, ldb: h,
                                        transposeB: false, into: cp.baseAddress! + offset, ldc: h)
                                }
                                first += t
                            }
                        }
                    }
                }
            }
        }
    }

    /// `out[rows, outWidth] = input[rows, inWidth] · weightᵀ + bias` (PyTorch Linear layout `[out, in]`).
    static func linear(
        _ input: [Float], rows: Int, inWidth: Int, weight: [Float], bias: [Float], outWidth: Int,
        into out: inout [Float]
    ) {
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows { (o.baseAddress! + r * outWidth).update(from: bias, count: outWidth) }
            input.withUnsafeBufferPointer { a in
                weight.withUnsafeBufferPointer { w in
                    BLAS.gemm(
                        rows, outWidth, inWidth, a: a.baseAddress!, b: w.baseAddress!, transposeB: true,
                        into: o.baseAddress!, accumulate: true)
                }
            }
        }
    }

    /// Row-wise LayerNorm in place (mean and variance in Double).
    static func layerNorm(_ x: inout [Float], rows: Int, width: Int, weight: [Float], bias: [Float], eps: Float) {
        for r in 0..<rows {
            let base = r * width
            var mean = 0.0
            for j in 0..<width { mean += Double(x[base + j]) }
            mean /= Double(width)
            var variance = 0.0
            for j in 0..<width { let d = Double(x[base + j]) - mean; variance += d * d }
            variance /= Double(width)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for j in 0..<width { x[base + j] = Float((Double(x[base + j]) - mean) * inv) * weight[j] + bias[j] }
        }
    }

    /// Softmax of `n` floats in place, max-subtracted.
    static func softmax(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, p[i]) }
        var s: Float = 0
        for i in 0..<n { p[i] = expf(p[i] - m); s += p[i] }
        for i in 0..<n { p[i] /= s }
    }

    /// GELU, the exact (erf) form BERT uses.
    @inline(__always) static func gelu(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * 0.70710678118654752)) }
}
