import Transformer
import ModelFiles

/// llama.cpp's tensor names and layouts against the Hugging Face ones: each family's rules live
/// in its file (`Architecture.huggingFaceName(gguf:family:)`); this converts the values.
public enum GGUFNames {
    /// How a stored tensor becomes the Hugging Face parameter.
    public typealias Layout = StoredLayout

    /// The Hugging Face name of a GGUF tensor, and how its values are laid out; nil when the name
    /// is not one of the family's.
    public static func huggingFace(_ name: String, family: ModelFamily) -> (name: String, layout: Layout)? {
        family.architecture.huggingFaceName(gguf: name, family: family)
    }

    /// Heads whose rows a rotary-permuted tensor groups (q: attention heads, k: kv heads).
    static func permutationHeads(_ hfName: String, config: ModelConfig) -> Int {
        hfName.contains(".k_proj.") ? config.kvHeads : config.heads
    }

    /// Stored values (row-major `stored`) into the Hugging Face layout.
    static func toHuggingFace(_ values: [Float], stored: [Int], layout: Layout, heads: Int) -> [Float] {
        if layout == .same || values.isEmpty { return values }
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { values in
            out.withUnsafeMutableBufferPointer { toHuggingFace(values, stored: stored, layout: layout, heads: heads, into: $0.baseAddress!) }
        }
        return out
    }

    /// Stored values (row-major `stored`) into the Hugging Face layout, written to `out`
    /// (`values.count` floats, zero-filled, not overlapping `values`).
    static func toHuggingFace(_ values: UnsafeBufferPointer<Float>, stored: [Int], layout: Layout, heads: Int,
                              into out: UnsafeMutablePointer<Float>) {
        switch layout {
        case .same: if let source = values.baseAddress { out.update(from: source, count: values.count) }
        case .transposed: transpose(values, rows: stored[0], columns: stored.count > 1 ? stored[1] : 1, into: out)
        case .rotaryPermuted: permuteRows(values, stored: stored, heads: heads, inverse: true, into: out)
        }
    }

    /// Hugging Face values back into the stored layout (for export).
    static func fromHuggingFace(_ values: [Float], hfShape: [Int], layout: Layout, heads: Int) -> [Float] {
        if layout == .same || values.isEmpty { return values }
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { values in
            out.withUnsafeMutableBufferPointer { out in
                switch layout {
                case .same: break
                case .transposed: transpose(values, rows: hfShape[0], columns: hfShape.count > 1 ? hfShape[1] : 1, into: out.baseAddress!)
                case .rotaryPermuted: permuteRows(values, stored: hfShape, heads: heads, inverse: false, into: out.baseAddress!)
                }
            }
        }
        return out
    }

    static func transpose(_ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { for c in 0..<columns { out[c * rows + r] = values[r * columns + c] } }
    }

    /// llama.cpp's rotary permutation over the rows of `[heads * headDim, columns]` (or a bias,
    /// columns 1): within each head, Hugging Face row `j * headDim/2 + i` is stored at row
    /// `2i + j` (i < headDim/2, j in 0, 1). `inverse` maps stored rows back to Hugging Face.
    static func permuteRows(_ values: UnsafeBufferPointer<Float>, stored: [Int], heads: Int, inverse: Bool,
                            into out: UnsafeMutablePointer<Float>) {
        let rows = stored[0], columns = stored.count > 1 ? stored[1] : 1
        let half = rows / heads / 2
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let hfRow = h * 2 * half + j * half + i
                    let ggufRow = h * 2 * half + 2 * i + j
                    let (from, to) = inverse ? (ggufRow, hfRow) : (hfRow, ggufRow)
                    for c in 0..<columns { out[to * columns + c] = values[from * columns + c] }
                }
            }
        }
    }
}
