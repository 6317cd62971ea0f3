import Tensors
import Scorer
import ArgumentParser

@main
struct Lifelong: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong",
        abstract: "Long-sequence user-behavior modeling: SDIM bucket sums in an LMDB store, scored at constant cost.",
        discussion: """
            Data flow: behavior logs → `encode` → LMDB store → scorer (library) / `score` / `replay`.
            docs/FORMATS.md has the store layout and the bundle format, docs/MODEL.md the math.
            """,
        version: LifelongVersion.full,
        subcommands: [
            InitModel.self, Encode.self, Append.self, Inspect.self, Score.self, EmbedText.self, Train.self, Verify.self,
            Synth.self, ReplayCommand.self, Manifest.self, IngestCommand.self, ServeCommand.self,
        ]
    )

    /// `lifelong serve …` goes to lifelong-serve untouched (its `--help` included); the rest is parsed here.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "serve" {
            do { try ServeCommand.exec(Array(arguments.dropFirst())) } catch { exit(withError: error) }
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch { exit(withError: error) }
    }
}

enum LifelongVersion {
    static let string = Scorer.version
    /// `lifelong --version`: the version and what runs the matrix products.
    static var full: String {
        let blas = BLAS.info
        return "\(string)\nBLAS: \(blas)\nBLAS library: \(blas.library)\nBLAS from: \(blas.source)"
    }
}
