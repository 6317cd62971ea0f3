public import Model

/// The trainable tensors of a v1 or v2 bundle (MODEL.md; docs/MODEL.md), held in one flat array so that Adam, the
/// gradient
/// checks and the gradients themselves treat them alike. `sdim.projection` is not among them: SDIM's
/// projection is drawn once and never trained.
package struct Parameters<T: TrainingScalar>: Sendable {
    /// The tensors in their fixed order; `name` is the safetensors name.
    package enum Tensor: Int, CaseIterable, Sendable {
        case item, category
        case queryWeight, queryBias, keyWeight, keyBias, valueWeight, valueBias, outputWeight, outputBias
        case mlp0Weight, mlp0Bias, mlp1Weight, mlp1Bias, mlp2Weight, mlp2Bias
        case textWeight, textBias
        case feedback

        package var name: String {
            switch self {
            case .item: "item_embedding"
            case .category: "category_embedding"
            case .queryWeight: "short_attention.query.weight"
            case .queryBias: "short_attention.query.bias"
            case .keyWeight: "short_attention.key.weight"
            case .keyBias: "short_attention.key.bias"
            case .valueWeight: "short_attention.value.weight"
            case .valueBias: "short_attention.value.bias"
            case .outputWeight: "short_attention.output.weight"
            case .outputBias: "short_attention.output.bias"
            case .mlp0Weight: "mlp.0.weight"
            case .mlp0Bias: "mlp.0.bias"
            case .mlp1Weight: "mlp.1.weight"
            case .mlp1Bias: "mlp.1.bias"
            case .mlp2Weight: "mlp.2.weight"
            case .mlp2Bias: "mlp.2.bias"
            case .textWeight: "text_projection.weight"
            case .textBias: "text_projection.bias"
            case .feedback: "feedback_embedding"
            }
        }
    }

    package let config: ModelBundle.Config
    package let itemRows: Int, categoryRows: Int
    /// Every tensor's shape (`[]` for the text projection of a bundle without one) and offset in `values`.
    package let shapes: [[Int]]
    package let offsets: [Int]
    package var values: [T]

    /// The tensors of `bundle`, converted to `T`.
    package init(_ bundle: ModelBundle) {
        let c = bundle.config
        config = c
        itemRows = bundle.itemRows
        categoryRows = bundle.categoryRows
        let d = c.d, da = c.attentionDim, h1 = c.hidden[0], h2 = c.hidden[1]
        var shapes: [[Int]] = [
            [itemRows, c.dItem], [categoryRows, c.dCat],
            [da, d], [da], [da, d], [da], [da, d], [da], [d, da], [d],
            [h1, 5 * d], [h1], [h2, h1], [h2], [1, h2], [1],
        ]
        shapes += c.dText > 0 ? [[c.dText, TextVector.width], [c.dText]] : [[], []]
        shapes.append(c.feedback ? [Feedback.count, d] : [])
        self.shapes = shapes
        var offsets: [Int] = [], total = 0
        for s in shapes {
            offsets.append(total)
            total += s.isEmpty ? 0 : s.reduce(1, *)
        }
        self.offsets = offsets
        let sources: [[Float]] = [
            bundle.itemEmbedding, bundle.categoryEmbedding,
            bundle.query.weight, bundle.query.bias, bundle.key.weight, bundle.key.bias,
            bundle.value.weight, bundle.value.bias, bundle.output.weight, bundle.output.bias,
            bundle.mlp[0].weight, bundle.mlp[0].bias, bundle.mlp[1].weight, bundle.mlp[1].bias,
            bundle.mlp[2].weight, bundle.mlp[2].bias, bundle.textProjectionWeight, bundle.textProjectionBias,
            bundle.feedbackEmbedding,
        ]
        var values: [T] = []
        values.reserveCapacity(total)
        for s in sources { values += s.map { T($0) } }
        precondition(values.count == total, "bundle tensors do not match the v1 shapes")
        self.values = values
    }

    package func offset(_ t: Tensor) -> Int { offsets[t.rawValue] }
    package func count(_ t: Tensor) -> Int { shapes[t.rawValue].isEmpty ? 0 : shapes[t.rawValue].reduce(1, *) }
    /// The tensors present in this bundle (no text projection without `d_text`, no feedback in v1).
    package var tensors: [Tensor] { Tensor.allCases.filter { count($0) > 0 } }

    /// One tensor's values as `Float`, for writing the bundle.
    package func floats(_ t: Tensor) -> [Float] { values[offset(t)..<(offset(t) + count(t))].map { Float($0) } }

    /// The tensors as safetensors entries (`sdim.projection` is added by the writer).
    package var namedTensors: [(name: String, shape: [Int], values: [Float])] {
        tensors.map { ($0.name, shapes[$0.rawValue], floats($0)) }
    }
}
