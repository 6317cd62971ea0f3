import Errors
import Foundation
import Scorer
public import Store
import Tensors

/// One writer per source: an exclusive `flock` on `STORE/ingest-<FNV-1a-64 of the name>.lock`, holding the
/// holder's process id. A second `ingest` of the same source into the same store is refused, naming the
/// process that holds it; the lock goes with the process, however it ends.
public final class SourceLock {
    private let fd: Int32

    public init(store: Store, source: String) throws {
        let hash = Hashing.hex(withUnsafeBytes(of: Hashing.fnv1a64(source).bigEndian, Array.init))
        let path = store.path + "/ingest-" + hash + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LifelongError(.io, message: "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &holder, holder.count, 0)
            close(fd)
            let pid = String(decoding: holder.prefix(max(n, 0)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw LifelongError(
                .invalidArgument,
                message: "source '\(source)' of store \(store.path) is being ingested by process "
                    + "\(pid.isEmpty ? "(unknown)" : pid); one writer per source")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        self.fd = fd
    }

    deinit { close(fd) }  // closing releases the lock
}
