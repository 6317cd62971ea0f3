/// A growable buffer that keeps its memory between uses (no allocation once warm). Growth keeps the old
/// contents (callers may append: sequence rows arrive chunk by chunk). The owner frees it.
@frozen
public struct Buffer<Element: BitwiseCopyable> {
    @usableFromInline var storage: UnsafeMutablePointer<Element>
    @usableFromInline var allocated: Int

    public var pointer: UnsafeMutablePointer<Element> { storage }
    public var capacity: Int { allocated }

    @inlinable
    public init(_ capacity: Int = 16) {
        allocated = max(capacity, 16)
        storage = .allocate(capacity: allocated)
    }

    /// Room for `n` elements.
    @inlinable @inline(__always)
    public mutating func ensure(_ n: Int) -> UnsafeMutablePointer<Element> {
        if n > allocated { grow(n) }
        return storage
    }

    @inlinable
    mutating func grow(_ n: Int) {
        let newCapacity = max(n, allocated * 2)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        grown.update(from: storage, count: allocated)
        storage.deallocate()
        allocated = newCapacity
        storage = grown
    }

    @inlinable
    public func free() { storage.deallocate() }
}
