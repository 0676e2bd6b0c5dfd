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
}
