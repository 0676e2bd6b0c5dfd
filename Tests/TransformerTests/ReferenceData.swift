import Foundation
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

/// Compares logits rows with the house tolerance: max |a - b| <= 1e-4 * max |reference|.
struct LogitComparison {
    var maxDiff: Float = 0, maxRef: Float = 0
    mutating func add(_ ours: UnsafePointer<Float>, _ reference: [Float]) {
        for (j, r) in reference.enumerated() {
            maxDiff = max(maxDiff, abs(ours[j] - r))
            maxRef = max(maxRef, abs(r))
        }
    }
    // maxRef > 0: an empty or all-zero reference compares nothing and must not pass.
    var passes: Bool { maxRef > 0 && maxDiff <= 1e-4 * maxRef }
    func message(_ what: String) -> String {
        "\(what): max |ours - reference| = \(maxDiff), allowed \(1e-4 * maxRef) (1e-4 x max |logit| \(maxRef)); \(FixtureModels.regenerate)"
    }
}

func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Int {
    var best = 0
    for i in 1..<n where p[i] > p[best] { best = i }
    return best
}
