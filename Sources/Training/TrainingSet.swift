public import BehaviorLog
public import Errors
public import Model

/// A behavior log made ready for training: each user's behaviors in (timestamp, item id) order as item
/// rows of the bundle's vocabulary, every item's category row and text atom, and the samples split by time.
///
/// A sample is one labelled behavior; its history is every earlier behavior of the same user — exactly what
/// the store holds, and what the replay has appended, when that behavior is scored.
package struct TrainingSet: Sendable {
    package struct Sample: Sendable {
        package var user: Int32
        /// The behavior's index in its user's sequence = the length of its history.
        package var position: Int32
        package var label: Bool
        /// The behavior's index in the whole log in replay order (timestamp, item id, user id).
        package var order: Int
    }

    /// Item rows of every user's sequence, users one after another; user `u` is `items[start[u] ..< start[u + 1]]`.
    package let items: [Int32]
    /// `Feedback` of every behavior, parallel to `items` (what a v2 bundle adds to the behavior's vector).
    package let feedback: [UInt8]
    package let start: [Int]
    package let users: [String]
    /// The log in replay order (`Sample.order` indexes it).
    package let ordered: [Behavior]
    /// Category row of each item row (0 = unknown).
    package let categoryOfItem: [Int32]
    /// Text slot of each item row in `texts` (−1: no text, the text part is `b_t`).
    package let textOfItem: [Int32]
    /// Cached text atoms `x(text)`, `TextVector.width` floats each.
    package let texts: [Float]
    package let train: [Sample], valid: [Sample], test: [Sample]
    /// History is everything before `validTime`; valid is [validTime, testTime); test is from `testTime` on.
    package let validTime: Double, testTime: Double

    /// A log that cannot be split for training (a period without both labels): `input`.
    /// `textVectors` maps an item id to its cached text atom (only for bundles with a text projection).
    /// `validFraction`/`testFraction`: the split points as fractions of the log in time order (0.8, 0.9).
    package init(
        _ data: Dataset, vocabulary: Vocabulary, textVectors: [String: [Float]] = [:],
        validFraction: Double = 0.8, testFraction: Double = 0.9
    ) throws {
        let ordered = Dataset.ordered(data.behaviors)
        validTime = Dataset.splitTime(.quantile(validFraction), ordered: ordered)
        testTime = Dataset.splitTime(.quantile(testFraction), ordered: ordered)

        var userIndex: [String: Int32] = [:]
        var users: [String] = []
        var counts: [Int] = []
        for b in ordered where userIndex[b.user] == nil {
            userIndex[b.user] = Int32(users.count)
            users.append(b.user)
        }
        counts = [Int](repeating: 0, count: users.count)
        for b in ordered { counts[Int(userIndex[b.user]!)] += 1 }
        var start = [0]
        for c in counts { start.append(start.last! + c) }
        var items = [Int32](repeating: 0, count: ordered.count)
        var feedback = [UInt8](repeating: 0, count: ordered.count)
        var filled = [Int](repeating: 0, count: users.count)
        var train: [Sample] = [], valid: [Sample] = [], test: [Sample] = []
        for (order, b) in ordered.enumerated() {
            let u = Int(userIndex[b.user]!)
            let position = filled[u]
            items[start[u] + position] = Int32(vocabulary.itemRow(b.item))
            feedback[start[u] + position] = Feedback(b.label).rawValue
            filled[u] += 1
            guard let label = b.label else { continue }
            let s = Sample(user: Int32(u), position: Int32(position), label: label, order: order)
            if b.timestamp < validTime {
                train.append(s)
            } else if b.timestamp < testTime {
                valid.append(s)
            } else {
                test.append(s)
            }
        }
        for (name, part) in [("train", train), ("valid", valid), ("test", test)] {
            guard part.contains(where: \.label), part.contains(where: { !$0.label }) else {
                throw LifelongError(
                    .input,
                    message:
                        "the \(name) period has no "
                        + "\(part.isEmpty ? "labelled behaviors" : "positive and negative labels both") "
                        + "(split at \(validFraction)/\(testFraction) of the log in time order; training needs "
                        + "clicks and non-clicks in every period)"
                )
            }
        }
        self.ordered = ordered
        self.items = items
        self.feedback = feedback
        self.start = start
        self.users = users
        self.train = train
        self.valid = valid
        self.test = test

        var categoryOfItem = [Int32](repeating: 0, count: vocabulary.maxItemRow + 1)
        var textOfItem = [Int32](repeating: -1, count: vocabulary.maxItemRow + 1)
        var texts: [Float] = []
        for (id, row) in vocabulary.items.sorted(by: { $0.value < $1.value }) {
            if let cat = data.items[id]?.category { categoryOfItem[row] = Int32(vocabulary.categoryRow(cat)) }
            if let x = textVectors[id] {
                precondition(x.count == TextVector.width, "text atoms have \(TextVector.width) floats")
                textOfItem[row] = Int32(texts.count / TextVector.width)
                texts += x
            }
        }
        self.categoryOfItem = categoryOfItem
        self.textOfItem = textOfItem
        self.texts = texts
    }

    /// The item rows of a sample's history (its user's behaviors before it).
    @inline(__always)
    func history(_ s: Sample) -> Range<Int> { start[Int(s.user)]..<(start[Int(s.user)] + Int(s.position)) }

    /// The behavior a sample is.
    package func behavior(_ s: Sample) -> Behavior { ordered[s.order] }

    /// The sample's own item row (the candidate).
    @inline(__always)
    func candidate(_ s: Sample) -> Int32 { items[start[Int(s.user)] + Int(s.position)] }
}
