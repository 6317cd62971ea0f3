import Glibc

/// Anything that can lend its bytes as an LMDB key or value without copying them.
///
/// Integer keys are written **big-endian** so that LMDB's default byte-wise comparison orders them
/// numerically (`UInt64`, `UInt32`, and `BigEndianKey`). Strings lend their UTF-8 bytes.
public protocol ByteView {
    func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension UnsafeRawBufferPointer: ByteView {
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(self)
    }
}

extension Array: ByteView where Element == UInt8 {
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ContiguousArray: ByteView where Element == UInt8 {
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: ByteView where Element == UInt8 {
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension String: ByteView {
    /// The UTF-8 bytes of the string: native strings lend them without copying or allocating (small
    /// strings from the stack); only a non-native string is made contiguous first.
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension UInt64: ByteView {
    /// Eight bytes, big-endian, so byte order equals numeric order.
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian, body)
    }
}

extension UInt32: ByteView {
    /// Four bytes, big-endian, so byte order equals numeric order.
    @inlinable public func withByteView<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: bigEndian, body)
    }
}

extension UInt64 {
    /// Decodes a big-endian integer key written by `UInt64.withByteView` (8 bytes, any alignment).
    @inlinable public init?(bigEndianKey bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 8 else { return nil }
        self = UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }
}

extension UInt32 {
    /// Decodes a big-endian integer key written by `UInt32.withByteView` (4 bytes, any alignment).
    @inlinable public init?(bigEndianKey bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 4 else { return nil }
        self = UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))
    }
}

// MARK: - Reading values regardless of alignment

/// LMDB hands out values that are only **2-byte aligned** inside its pages, so binding them to `Float` or
/// `UInt64` memory (`assumingMemoryBound`, `bindMemory`, `load(as:)`) is undefined behaviour and traps on
/// misaligned loads in debug builds. These helpers are the one safe way the project reads numbers out of a
/// value: `loadUnaligned` for scalars and `memcpy` for runs of floats. Stored numbers are little-endian.
extension UnsafeRawBufferPointer {
    /// A little-endian integer at `offset`, any alignment. Precondition: `offset + size ≤ count`.
    @inlinable public func littleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "read past the end of an LMDB value")
        return T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A little-endian IEEE-754 `Float` at `offset`, any alignment.
    @inlinable public func float32(at offset: Int) -> Float {
        Float(bitPattern: littleEndian(UInt32.self, at: offset))
    }

    /// Copies `count` little-endian floats starting at byte `offset` into `destination` (aligned), any
    /// source alignment. One `memcpy`; exact bit patterns (this project only runs on little-endian hosts).
    @inlinable public func copyFloats(at offset: Int, count n: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(offset >= 0 && n >= 0 && offset + n * 4 <= count, "read past the end of an LMDB value")
        guard n > 0 else { return }
        UnsafeMutableRawPointer(destination).copyMemory(from: baseAddress! + offset, byteCount: n * 4)
    }
}
