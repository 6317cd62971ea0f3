import Model
import Tensors

/// The batch's embeddings: `E` (one row per atom) and `S` (one row per behavior), and backward, their
/// gradients scattered into the embedding tables, the feedback rows and the text projection.
extension Network {
    /// `E[a] = e(atoms[a])`: item row, category row and `W_t x + b_t` (the same arithmetic, in the same order,
    /// as `ModelBundle.projectText`, so a trained bundle hashes its items exactly as the encoder does).
    func embedAtoms(_ w: UnsafePointer<T>) {
        let n = layout.atoms.count, dItem = config.dItem, dCat = config.dCat, dText = config.dText
        let width = TextVector.width
        let e = atomEmbeddings.ensure(max(n, 1) * d)
        let items = tensor(.item, in: w), categories = tensor(.category, in: w)
        let weight = tensor(.textWeight, in: w), bias = tensor(.textBias, in: w)
        texts.withUnsafeBufferPointer { x in
            for a in 0..<n {
                let r = Int(layout.atoms[a]), row = e + a * d
                row.update(from: items + r * dItem, count: dItem)
                (row + dItem).update(from: categories + Int(data.categoryOfItem[r]) * dCat, count: dCat)
                guard dText > 0 else { continue }
                let slot = Int(data.textOfItem[r])
                for k in 0..<dText {
                    var s = bias[k]
                    if slot >= 0 {
                        let xr = x.baseAddress! + slot * width, wr = weight + k * width
                        for j in 0..<width { s += wr[j] * xr[j] }
                    }
                    row[dItem + dCat + k] = s
                }
            }
        }
    }

    /// `S[b] = e(item) + F[feedback]` for every behavior of the batch (v1: `e(item)`).
    func embedBehaviors(_ w: UnsafePointer<T>) {
        let nb = layout.behaviorKeys.count, s = behaviorVectors.ensure(max(nb, 1) * d), e = atomEmbeddings.pointer
        let f = tensor(.feedback, in: w)
        for b in 0..<nb {
            let row = s + b * d
            row.update(from: e + Int(layout.behaviorAtom[b]) * d, count: d)
            guard config.feedback else { continue }
            let fr = f + Int(layout.behaviorFeedback[b]) * d
            for k in 0..<d { row[k] += fr[k] }
        }
    }

    /// `dS` into `dE` (each behavior's atom) and into the feedback rows `dF`.
    func scatterBehaviors(_ g: UnsafeMutablePointer<T>) {
        let dBehaviors = dBehaviorVectors.pointer, dAtoms = dAtomEmbeddings.pointer
        let dF = tensor(.feedback, in: g)
        for b in 0..<layout.behaviorKeys.count {
            let src = dBehaviors + b * d, row = dAtoms + Int(layout.behaviorAtom[b]) * d
            for k in 0..<d { row[k] += src[k] }
            guard config.feedback else { continue }
            let fr = dF + Int(layout.behaviorFeedback[b]) * d
            for k in 0..<d { fr[k] += src[k] }
        }
    }

    /// `dE` into the item and category rows of the atoms and into the text projection.
    func scatterAtoms(_ dAtoms: UnsafePointer<T>, _ g: UnsafeMutablePointer<T>) {
        let n = layout.atoms.count, dItem = config.dItem, dCat = config.dCat, dText = config.dText
        let dItems = tensor(.item, in: g), dCategories = tensor(.category, in: g)
        for a in 0..<n {
            let r = Int(layout.atoms[a]), src = dAtoms + a * d
            let gi = dItems + r * dItem, gc = dCategories + Int(data.categoryOfItem[r]) * dCat
            for k in 0..<dItem { gi[k] += src[k] }
            for k in 0..<dCat { gc[k] += src[dItem + k] }
        }
        guard dText > 0 else { return }
        // d b_t = Σ_a dE_text[a]; d W_t += dE_textᵀ X (X: the atoms' text vectors, 0 for an item without text).
        let width = TextVector.width, dBias = tensor(.textBias, in: g)
        for a in 0..<n { for k in 0..<dText { dBias[k] += dAtoms[a * d + dItem + dCat + k] } }
        let X = atomTexts.ensure(max(n, 1) * width)
        texts.withUnsafeBufferPointer { x in
            for a in 0..<n {
                let slot = Int(data.textOfItem[Int(layout.atoms[a])])
                if slot >= 0 {
                    (X + a * width).update(from: x.baseAddress! + slot * width, count: width)
                } else {
                    (X + a * width).update(repeating: 0, count: width)
                }
            }
        }
        T.gemm(
            transposeA: true, transposeB: false, dText, width, n, a: dAtoms + dItem + dCat, lda: d, b: X,
            ldb: width, beta: 1, c: tensor(.textWeight, in: g), ldc: width)
    }
}
