import Foundation
import TestSupport
@testable import ModelIO
@testable import Transformer

/// Reads the JSON references written by `tools/make_onnx_fixtures.py`.
enum ReferenceData {
    static func json(_ fixture: String, _ file: String) throws -> [String: Any] {
        let url = FixtureModels.folder(fixture).appendingPathComponent(file)
        guard let data = try? Data(contentsOf: url),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError("cannot read \(url.path); \(FixtureModels.regenerate)")
        }
        return object
    }

    static func ints(_ value: Any?) -> [[Int]] { (value as? [[Any]] ?? []).map { $0.map { ($0 as! NSNumber).intValue } } }

    /// Nested `[..., vocab]` lists flattened to rows of Float.
    static func rows(_ value: Any?) -> [[Float]] {
        var out: [[Float]] = []
        func walk(_ v: Any) {
            if let list = v as? [Any], let first = list.first {
                if first is NSNumber { out.append(list.map { ($0 as! NSNumber).floatValue }) } else { list.forEach(walk) }
            }
        }
        if let value { walk(value) }
        return out
    }

    static func model(_ fixture: String) throws -> TransformerModel {
        try TransformerModel(folder: FixtureModels.folder(fixture))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Compares logits rows with the house tolerance, max |a - b| <= 1e-4 * max |reference|, through
/// the shared `NumericComparison`: a NaN or infinite logit on either side fails, and so does an
/// empty or all-zero reference (it would compare nothing).
struct LogitComparison {
    private(set) var comparison: NumericComparison

    init(_ tolerance: Tolerance = .ofLargest(1e-4)) { comparison = NumericComparison(tolerance) }

    mutating func add(_ ours: UnsafePointer<Float>, _ reference: [Float]) {
        comparison.add(UnsafeBufferPointer(start: ours, count: reference.count), reference)
    }

    var passes: Bool { comparison.passes }

    func message(_ what: String) -> String {
        (comparison.failure(what) ?? "\(what): within \(comparison.tolerance)") + "; \(FixtureModels.regenerate)"
    }
}

func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Int {
    var best = 0
    for i in 1..<n where p[i] > p[best] { best = i }
    return best
}
