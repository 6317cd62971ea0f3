import Model

/// Where a batch's pieces are: its atoms (distinct items), its behaviors (distinct (item, feedback) pairs of the
/// histories), each sample's candidate and history as indices into them, and, for the causal SDIM pass and full
/// attention, the walks (a user's samples in position order over the behaviors of its longest history).
struct BatchLayout {
    /// One user of the batch: the behaviors of positions 0 ..< walkLength (the history of its last sample) in
    /// `walk[walkStart ..< walkStart + walkLength]`, and its samples by position in
    /// `walkSamples[samplesStart ..< samplesStart + samplesCount]`.
    struct Walk {
        var walkStart: Int, walkLength: Int, samplesStart: Int, samplesCount: Int
    }

    // Atoms.
    private var atomOf: [Int32]  // item row → atom index, −1 when not in the batch
    private(set) var atoms: [Int32] = []  // atom index → item row
    // Behaviors.
    private var behaviorOf: [Int32]  // item row · 3 + feedback → behavior index, −1 when not in the batch
    private(set) var behaviorKeys: [Int32] = []  // behavior index → item row · 3 + feedback
    private(set) var behaviorAtom: [Int32] = []  // behavior index → atom index of its item
    private(set) var behaviorFeedback: [UInt8] = []
    // Samples: candidate atom, and history behaviors in `entries[start ..< start + count]` (the whole history
    // for the per-sample SDIM gather, the window otherwise; the window is always the last `windowCount`).
    private(set) var candidate: [Int32] = [], labels: [Bool] = []
    private(set) var entryStart: [Int] = [], entryCount: [Int] = [], windowCount: [Int] = []
    private(set) var entries: [Int32] = []
    /// Where each sample's window attention weights start (`windowCount · heads` each); one more at the end.
    private(set) var shortWeightStart: [Int] = []
    private(set) var batchSize = 0
    private(set) var longestHistory = 0
    // Walks.
    private(set) var walks: [Walk] = []
    private(set) var walk: [Int32] = [], walkSamples: [Int32] = [], samplePosition: [Int32] = []
    /// Where each sample's history starts in `walk` (full attention reads `walk[start ..< start + position]`).
    private(set) var sampleWalkStart: [Int] = []

    init(items: Int) {
        atomOf = [Int32](repeating: -1, count: items)
        behaviorOf = [Int32](repeating: -1, count: items * Feedback.count)
    }

    /// The first entry of sample `i`'s window.
    func windowStart(_ i: Int) -> Int { entryStart[i] + entryCount[i] - windowCount[i] }

    /// Resolves the batch's samples to atoms and behaviors: every distinct item the batch reads becomes one
    /// atom (a row of `E`), every distinct (item, feedback) of its histories one behavior (a row of `S`).
    mutating func lay(
        _ batch: UnsafeBufferPointer<TrainingSet.Sample>, data: TrainingSet, long: LongTerm, causal: Bool,
        window: Int, heads: Int, feedback: Bool
    ) {
        reset()
        batchSize = batch.count
        let wholeHistory = long == .sdim && !causal
        var weightStart = 0
        data.items.withUnsafeBufferPointer { items in
            for s in batch {
                candidate.append(atom(data.candidate(s)))
                labels.append(s.label)
                let h = data.history(s)
                let w = min(window, h.count)
                let kept = wholeHistory ? h : (h.upperBound - w)..<h.upperBound
                entryStart.append(entries.count)
                entryCount.append(kept.count)
                windowCount.append(w)
                for j in kept { entries.append(behavior(items[j], data.feedback[j], feedback: feedback)) }
                shortWeightStart.append(weightStart)
                weightStart += w * heads
            }
        }
        shortWeightStart.append(weightStart)
        for s in batch { samplePosition.append(s.position) }
        longestHistory = batch.map { Int($0.position) }.max() ?? 0
        if long == .full || (long == .sdim && causal) { layWalks(batch, data: data, feedback: feedback) }
    }

    /// The walks: samples grouped by user, by position within a user.
    private mutating func layWalks(
        _ batch: UnsafeBufferPointer<TrainingSet.Sample>, data: TrainingSet, feedback: Bool
    ) {
        sampleWalkStart = [Int](repeating: 0, count: batch.count)
        walkSamples = (0..<Int32(batch.count)).map { $0 }
        walkSamples.sort { a, b in
            let sa = batch[Int(a)], sb = batch[Int(b)]
            return sa.user != sb.user ? sa.user < sb.user : sa.position < sb.position
        }
        data.items.withUnsafeBufferPointer { items in
            var first = 0
            while first < walkSamples.count {
                let user = batch[Int(walkSamples[first])].user
                var end = first + 1
                while end < walkSamples.count, batch[Int(walkSamples[end])].user == user { end += 1 }
                let h = data.history(batch[Int(walkSamples[end - 1])])
                walks.append(
                    Walk(walkStart: walk.count, walkLength: h.count, samplesStart: first, samplesCount: end - first))
                for k in first..<end { sampleWalkStart[Int(walkSamples[k])] = walk.count }
                for j in h { walk.append(behavior(items[j], data.feedback[j], feedback: feedback)) }
                first = end
            }
        }
    }

    /// Forgets the last batch, keeping every array's capacity.
    private mutating func reset() {
        for r in atoms { atomOf[Int(r)] = -1 }
        for k in behaviorKeys { behaviorOf[Int(k)] = -1 }
        atoms.removeAll(keepingCapacity: true)
        behaviorKeys.removeAll(keepingCapacity: true)
        behaviorAtom.removeAll(keepingCapacity: true)
        behaviorFeedback.removeAll(keepingCapacity: true)
        candidate.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        entryStart.removeAll(keepingCapacity: true)
        entryCount.removeAll(keepingCapacity: true)
        windowCount.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        shortWeightStart.removeAll(keepingCapacity: true)
        walks.removeAll(keepingCapacity: true)
        walk.removeAll(keepingCapacity: true)
        walkSamples.removeAll(keepingCapacity: true)
        samplePosition.removeAll(keepingCapacity: true)
        sampleWalkStart.removeAll(keepingCapacity: true)
    }

    /// The atom of item row `row`, added on first use.
    private mutating func atom(_ row: Int32) -> Int32 {
        if atomOf[Int(row)] < 0 {
            atomOf[Int(row)] = Int32(atoms.count)
            atoms.append(row)
        }
        return atomOf[Int(row)]
    }

    /// The behavior of (item row, feedback), added on first use; without feedback every behavior has feedback 0.
    private mutating func behavior(_ row: Int32, _ value: UInt8, feedback: Bool) -> Int32 {
        let f = feedback ? value : 0, key = Int(row) * Feedback.count + Int(f)
        if behaviorOf[key] < 0 {
            behaviorOf[key] = Int32(behaviorKeys.count)
            behaviorKeys.append(Int32(key))
            behaviorAtom.append(atom(row))
            behaviorFeedback.append(f)
        }
        return behaviorOf[key]
    }
}
