import Foundation

/// A one-line progress report on stderr, redrawn at most every 0.2 s.
final class ProgressLine {
    var start = Date()
    var last = Date.distantPast
    let quiet: Bool
    let unit: String
    init(quiet: Bool, unit: String = "users") {
        self.quiet = quiet
        self.unit = unit
    }

    /// Encoding progress: users done of total, and the behaviors they held.
    func update(_ done: Int, _ total: Int, _ behaviors: Int) {
        draw(done, total, String(format: "  %.0f behaviors/s", Double(behaviors) / elapsed))
    }

    /// Progress in `unit`s.
    func update(_ done: Int, _ total: Int) { draw(done, total, "") }

    /// Progress in `unit`s with a note (e.g. the running loss).
    func update(_ done: Int, _ total: Int, _ note: String) { draw(done, total, note) }

    /// Starts timing again (a new pass over the same work, e.g. the next epoch).
    func restart() {
        start = Date()
        last = .distantPast
    }

    private var elapsed: Double { max(Date().timeIntervalSince(start), 1e-9) }

    private func draw(_ done: Int, _ total: Int, _ extra: String) {
        guard !quiet, done == total || Date().timeIntervalSince(last) > 0.2 else { return }
        last = Date()
        let t = elapsed
        let eta = done > 0 ? t * Double(total - done) / Double(done) : 0
        let line =
            "\r\(done)/\(total) \(unit)  " + String(format: "%.0f", Double(done) / t) + " \(unit)/s\(extra)  ETA "
            + String(format: "%.0f", eta) + " s "
        FileHandle.standardError.write(Data(line.utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
