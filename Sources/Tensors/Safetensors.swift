public import Errors
public import Foundation

/// A Hugging Face safetensors file: `u64 LE header length N`, `N` bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then the data.
///
/// Reading checks everything a hostile or truncated file could get wrong: header length within the file,
/// valid JSON, known dtypes, offsets inside the data region, byte size = element count × dtype size, and no
/// two tensors overlapping. Every error names the file and, where there is one, the tensor.
public struct Safetensors: Sendable {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"
        public var size: Int { self == .f32 ? 4 : self == .i64 ? 8 : 2 }
    }

    public struct Tensor: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data region.
        public let range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let metadata: [String: String]
    public let tensors: [String: Tensor]
    /// The whole file; tensor data starts at `dataStart`.
    public let bytes: Data
    let dataStart: Int

    /// A file that cannot be read (`io`) or is not valid safetensors (`damaged`), naming the file and tensor.
    public struct FormatError: KindedError {
        public let kind: ErrorKind
        public let path: String
        public let tensor: String?
        /// What is wrong, without the file and tensor.
        public let reason: String
        public var message: String { "\(path): " + (tensor.map { "tensor '\($0)': " } ?? "") + reason }

        public init(_ kind: ErrorKind = .damaged, path: String, tensor: String? = nil, reason: String) {
            self.kind = kind
            self.path = path
            self.tensor = tensor
            self.reason = reason
        }
    }

    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw FormatError(.io, path: path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws {
        func fail(_ message: String, _ tensor: String? = nil) -> FormatError {
            FormatError(path: path, tensor: tensor, reason: message)
        }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, not even the 8-byte header length") }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n >= 2, n <= UInt64(data.count - 8) else {
            throw fail(
                "header length \(n) does not fit in a file of \(data.count) bytes (truncated or not safetensors)")
        }
        let headerEnd = 8 + Int(n)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataLength = data.count - headerEnd
        var metadata: [String: String] = [:]
        var tensors: [String: Tensor] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("entry is not an object", name) }
            guard let ds = info["dtype"] as? String else { throw fail("missing dtype", name) }
            guard let dtype = DType(rawValue: ds) else {
                throw fail("unsupported dtype \(ds) (F32, F16, BF16, I64)", name)
            }
            guard let shapeAny = info["shape"] as? [Any], let shape = Self.integers(shapeAny),
                shape.allSatisfy({ $0 >= 0 })
            else { throw fail("shape is not a list of non-negative integers", name) }
            guard let offAny = info["data_offsets"] as? [Any], let off = Self.integers(offAny), off.count == 2
            else { throw fail("data_offsets is not [begin, end]", name) }
            guard off[0] >= 0, off[0] <= off[1], off[1] <= dataLength else {
                throw fail("data_offsets \(off) outside the data region of \(dataLength) bytes (truncated file?)", name)
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, x in
                let (p, o) = acc.0.multipliedReportingOverflow(by: x)
                return (p, acc.1 || o)
            }
            guard !overflow, count.multipliedReportingOverflow(by: dtype.size).overflow == false,
                off[1] - off[0] == count * dtype.size
            else {
                throw fail(
                    "byte size \(off[1] - off[0]) does not match shape \(shape) × \(dtype.size)-byte \(dtype.rawValue)",
                    name)
            }
            tensors[name] = Tensor(name: name, dtype: dtype, shape: shape, range: off[0]..<off[1])
        }
        let sorted = tensors.values.filter { !$0.range.isEmpty }.sorted {
            ($0.range.lowerBound, $0.name) < ($1.range.lowerBound, $1.name)
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.overlaps(b.range) {
            throw fail("data overlaps tensor '\(a.name)'", b.name)
        }
        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self.bytes = data
        self.dataStart = headerEnd
    }

    private static func integers(_ xs: [Any]) -> [Int]? {
        var out: [Int] = []
        for x in xs {
            guard let n = x as? NSNumber, Double(n.int64Value) == n.doubleValue
            else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    /// The tensor converted to `Float` (from F32, F16 or BF16), row-major.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw FormatError(path: path, tensor: name, reason: "missing") }
        return bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + t.range.lowerBound
            let src = UnsafeRawBufferPointer(start: base, count: t.range.count)
            switch t.dtype {
            case .f32:
                return [Float](unsafeUninitializedCapacity: t.count) { buf, n in
                    if t.count > 0 {
                        UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: base, byteCount: 4 * t.count)
                    }
                    n = t.count
                }
            case .f16:
                return (0..<t.count).map {
                    Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))
                }
            case .bf16:
                return (0..<t.count).map {
                    Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16)
                }
            case .i64:
                return (0..<t.count).map { Float(src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            }
        }
    }

    /// Writes F32 tensors (row-major) and string metadata as a safetensors file, tensors in name order.
    public static func write(
        _ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String],
        to path: String
    ) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for t in tensors.sorted(by: { $0.name < $1.name }) {
            precondition(
                t.shape.reduce(1, *) == t.values.count, "tensor \(t.name): shape \(t.shape) ≠ \(t.values.count) values")
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad with spaces so data is 8-byte aligned
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in tensors.sorted(by: { $0.name < $1.name }) {
            t.values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        try out.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
