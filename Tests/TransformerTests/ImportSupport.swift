import Foundation
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// Shared helpers of the Import*Tests: fixture lists, reference parameters, temporary folders.
enum ImportSupport {
    static let families = ["llama", "qwen2", "qwen3", "gpt2", "llama_equalnorms"]
    static let styles = ["legacy-folded", "legacy-unfolded", "dynamo-optimized", "dynamo-unoptimized",
                         "optimum", "optimum-with-past", "external-data", "legacy-folded-fp16"]

    /// Every ONNX fixture folder present (not every family has every style).
    static var onnxFixtures: [String] {
        families.flatMap { f in styles.map { "\(f)-\($0)" } }
            .filter { FileManager.default.fileExists(atPath: FixtureModels.folder($0).appendingPathComponent("model.onnx").path) }
    }

    static func hfFolder(of fixture: String) -> URL {
        let family = String(fixture.prefix { $0 != "-" })
        return FixtureModels.folder("\(family)-hf")
    }

    static func config(of fixture: String) throws -> ModelConfig {
        let url = FixtureModels.folder(fixture).appendingPathComponent("config.json")
        return try ModelConfig(hf: HFConfig(contentsOf: url), file: url.path)
    }

    static func onnx(_ fixture: String) throws -> ONNXModel {
        try ONNXModel(contentsOf: FixtureModels.folder(fixture).appendingPathComponent("model.onnx"))
    }

    /// A fresh empty folder under the system temporary directory.
    static func temporaryFolder(_ label: String = "import") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("treerpo-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A copy of a fixture folder (to edit its files).
    static func copyFixture(_ fixture: String) throws -> URL {
        let folder = try temporaryFolder(fixture)
        let source = FixtureModels.folder(fixture)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name != "reference.json" {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        return folder
    }

    /// Every file under `folder` with its bytes, to show a workspace was left as it was.
    static func snapshot(_ folder: URL) -> [String: Data] {
        var result: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return result }
        for case let url as URL in e {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
            let rel = String(url.path.dropFirst(folder.path.count))
            result[rel] = isDir.boolValue ? Data("<dir>".utf8) : (try? Data(contentsOf: url)) ?? Data()
        }
        return result
    }

    /// `reference.json`'s ground truth: ONNX tensor -> (HF parameters, transposed).
    static func groundTruth(_ fixture: String) throws -> [(name: String, hf: [String], transposed: Bool)] {
        let data = try Data(contentsOf: FixtureModels.folder(fixture).appendingPathComponent("reference.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let graph = json["graph"] as! [String: Any]
        return (graph["weight_tensors"] as! [[String: Any]]).map {
            ($0["name"] as! String, $0["hf"] as! [String], $0["transposed"] as! Bool)
        }
    }
}
