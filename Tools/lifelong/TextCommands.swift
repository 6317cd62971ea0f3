import Tensors
import ArgumentParser
import Foundation
import Model
import TextEncoder

struct EmbedText: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed-text",
        abstract:
            "Embed texts with the first K layers of all-MiniLM-L6-v2 (BAHE text atoms): one JSON object per text.",
        discussion: """
            Prints {"text": …, "ids": [token ids], "vector": [384 floats]} per line: the mean of layer K's hidden \
            states over every token ([CLS] and [SEP] included), L2-normalised. K = 6 is the model's sentence \
            embedding; K = 0 pools the embedding layer. With no TEXT arguments, reads one text per line from stdin.
            """
    )
    @Option(help: "Encoder layers to run, 0…6.") var layers: Int
    @Option(help: "all-MiniLM-L6-v2 folder (config.json, vocab.txt, model.safetensors).")
    var modelDir = MiniLM.defaultFolder
    @Argument(help: "Texts to embed.") var texts: [String] = []

    func validate() throws {
        guard (0...6).contains(layers) else { throw ValidationError("--layers must be 0…6") }
    }

    func run() throws {
        BLAS.useOneThread()
        let model = try MiniLM(folder: modelDir)
        var input = texts
        if input.isEmpty { while let line = readLine() { input.append(line) } }
        for e in zip(input, try model.embed(input, layers: layers)) {
            let object: [String: Any] = [
                "text": e.0, "ids": e.1.ids.map(Int.init), "vector": e.1.vector.map(Double.init),
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
