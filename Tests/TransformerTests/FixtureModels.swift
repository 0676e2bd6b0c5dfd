import Foundation
import TestSupport

/// The committed fixture models (`Fixtures/models/`, made by `tools/make_onnx_fixtures.py`).
enum FixtureModels {
    static let root = Repository.fixtureModels

    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    static let regenerate = "regenerate with: python tools/make_onnx_fixtures.py"
}
