import ArgumentParser
struct LMDBBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lmdb")
    func run() throws {}
}
