public import ArgumentParser
import Foundation
import Scorer

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score one user against candidate items; prints one JSON object per line, in input order.",
        discussion: """
            Output: {"item":"I1","p":0.123456} per candidate. A user not in the store is scored with no history
            (u_long = u_short = 0); an item not in the model's vocabulary uses row 0 ("unknown").
            Modes: bse (stored bucket sums, the serving path), online (re-hash the stored sequence), full (exact
            attention over the whole sequence), short (no long-term term).
            """
    )
    @OptionGroup var folders: ModelStoreOptions
    @Option(help: "User id.") var user: String
    @Option(help: "Candidate item ids, comma-separated.") var items: String
    @Option(help: "bse | online | full | short") var mode: Scorer.Mode = .bse

    func validate() throws {
        guard !items.split(separator: ",").isEmpty else { throw ValidationError("--items: give at least one item id") }
    }

    func run() throws {
        let candidates = items.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let p = try StoreScorers(modelFolder: folders.model, source: folders.source)
            .score(user: user, candidates: candidates, mode: mode)
        var out = ""
        for (item, prob) in zip(candidates, p) {
            let quoted = String(
                decoding: try JSONSerialization.data(withJSONObject: item, options: [.fragmentsAllowed]), as: UTF8.self)
            out += "{\"item\":\(quoted),\"p\":\(String(format: "%.6f", prob))}\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

extension Scorer.Mode: ExpressibleByArgument {}
