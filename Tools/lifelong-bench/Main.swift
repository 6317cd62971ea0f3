import ArgumentParser

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifelong-bench",
        abstract: "Release-build micro-benchmarks for Lifelong (refuses to run from a debug build).",
        subcommands: [
            LMDBBench.self, EncodeBench.self, ScoreBench.self, EmbedBench.self, LongTrainBench.self, TextBench.self,
            TrainBench.self, IngestBench.self, DecodeBench.self,
            SgemmPeak.self,
        ]
    )
}
