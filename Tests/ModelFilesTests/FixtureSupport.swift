import Foundation
import Testing
@testable import ModelFiles

/// Where the committed fixtures live and what they should contain.
/// Fixtures and expected.json come from `python tools/make_modelfiles_fixtures.py`.
enum Fixtures {
    static let regenerate = "regenerate with: .venv-tools/bin/python tools/make_modelfiles_fixtures.py"

    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func data(_ name: String) throws -> Data {
        do {
            return try Data(contentsOf: url(name))
        } catch {
            Issue.record("missing fixture \(name); \(regenerate)")
            throw error
        }
    }

    /// expected.json: {"onnx": {"initializers": {name: {dims, data_type, floats|ints}}, ...},
    /// "external": {...}, "safetensors": {name: {dtype, shape, floats|ints}}}.
    static func expected() throws -> [String: JSONValue] {
        try JSONDecoder().decode(JSONValue.self, from: data("expected.json")).objectValue!
    }

    static func floats(_ value: JSONValue?) -> [Float]? {
        value?.arrayValue?.map { Float($0.doubleValue!) }
    }

    static func ints(_ value: JSONValue?) -> [Int64]? {
        value?.arrayValue?.map { $0.intValue! }
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelfiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs `body` expecting a ModelFileError whose description contains every one of `parts`
/// (the file, the tensor or field, ...). Returns the error for further checks.
@discardableResult
func expectModelFileError(_ parts: [String], kind: ModelFileError.Kind? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation,
                          _ body: () throws -> Void) -> ModelFileError? {
    do {
        try body()
        Issue.record("expected a ModelFileError mentioning \(parts), found success", sourceLocation: sourceLocation)
        return nil
    } catch let error as ModelFileError {
        for part in parts {
            #expect(error.description.contains(part), "error '\(error)' should mention '\(part)'", sourceLocation: sourceLocation)
        }
        if let kind {
            #expect(error.kind == kind, "error '\(error)' should be \(kind)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected a ModelFileError, found \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Deterministic generator for the fuzz tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
