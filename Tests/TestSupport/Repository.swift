import Foundation

/// Paths inside the repository, found from this file's own location so the tests run from any
/// working directory (fixtures that are not copied into test bundles are read in place).
public enum Repository {
    /// The checkout's root: this file is `Tests/TestSupport/Repository.swift`.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `path` relative to the root, e.g. `Fixtures/models`.
    public static func url(_ path: String) -> URL { root.appendingPathComponent(path) }

    /// The committed fixture models, made by `tools/make_onnx_fixtures.py`.
    public static let fixtureModels = url("Fixtures/models")

    /// The `treerpo` executable beside the test bundle (SwiftPM builds both into one folder).
    public static func treerpoExecutable() throws -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("treerpo")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        throw MissingExecutable(near: CommandLine.arguments[0])
    }

    public struct MissingExecutable: Error, CustomStringConvertible {
        public let near: String
        public var description: String {
            "cannot find the treerpo executable near \(near); build the package (swift build -c release) before the tests"
        }
    }
}
