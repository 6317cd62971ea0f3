/// The text atom `x(text)` a model reads: the mean of a text's hidden states in the first K layers of
/// all-MiniLM-L6-v2 (MODEL.md), a vector of `TextVector.width` floats. The text projection `W_t` of a bundle
/// is `[d_text, TextVector.width]`.
public enum TextVector {
    /// The width of all-MiniLM-L6-v2's hidden states.
    public static let width = 384
}
