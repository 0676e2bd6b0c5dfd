import Foundation
import Testing
import ModelFiles
@testable import ModelIO
@testable import Transformer

/// Every ONNX fixture (family x exporter style) imports into exactly the parameters of the
/// family's `-hf` safetensors checkpoint, and the import map agrees with the fixture script's
/// ground truth (reference.json). Fixtures: python tools/make_onnx_fixtures.py.
@Suite struct ImportFixtureTests {
    @Test(arguments: ImportSupport.onnxFixtures)
    func importedParametersEqualTheHFCheckpoint(fixture: String) throws {
        let config = try ImportSupport.config(of: fixture)
        let result = try ONNXImport.load(try ImportSupport.onnx(fixture), config: config,
                                         directory: FixtureModels.folder(fixture))
        let (hfConfig, reference) = try CheckpointLoading.loadFolder(ImportSupport.hfFolder(of: fixture))
        #expect(hfConfig.parameterSpecs == config.parameterSpecs, "\(FixtureModels.regenerate)")
        let fp16 = fixture.hasSuffix("fp16")
        for e in reference.entries {
            let ours = UnsafeBufferPointer(start: result.parameters[e.spec.name], count: e.spec.count)
            let theirs = UnsafeBufferPointer(start: reference.base + e.offset, count: e.spec.count)
            // fp32 sources: bit-exact. fp16 sources: the fp32 value rounded to fp16 (nearest even).
            let mismatch = ours.indices.first { i in
                ours[i].bitPattern != theirs[i].bitPattern && !(fp16 && ours[i] == Float(Float16(theirs[i])))
            }
            #expect(mismatch == nil, "\(fixture): \(e.spec.name) differs from \(ImportSupport.hfFolder(of: fixture).lastPathComponent) at \(mismatch ?? -1); \(FixtureModels.regenerate)")
        }
    }

    @Test(arguments: ImportSupport.onnxFixtures)
    func importMapAgreesWithTheFixtureGroundTruth(fixture: String) throws {
        let config = try ImportSupport.config(of: fixture)
        let result = try ONNXImport.load(try ImportSupport.onnx(fixture), config: config,
                                         directory: FixtureModels.folder(fixture))
        // Our map as (tensor, transposed) -> parameters.
        var ours: [String: (params: Set<String>, transposed: Bool)] = [:]
        for e in result.entries {
            for s in [e.source] + e.duplicates {
                ours[s.name, default: ([], s.transposed)].params.insert(e.parameter)
                #expect(ours[s.name]!.transposed == s.transposed)
            }
        }
        var truthNames: Set<String> = []
        for truth in try ImportSupport.groundTruth(fixture) where !truth.hf.isEmpty {
            truthNames.insert(truth.name)
            let expected = Set(truth.hf.map { config.tiedEmbeddings && $0 == config.tiedHeadName ? config.embeddingName : $0 })
            #expect(ours[truth.name]?.params == expected,
                    "\(fixture): tensor \(truth.name) should map to \(expected.sorted()), maps to \(ours[truth.name]?.params.sorted() ?? []); \(FixtureModels.regenerate)")
            #expect(ours[truth.name]?.transposed == truth.transposed, "\(fixture): tensor \(truth.name) transposed")
        }
        #expect(Set(ours.keys) == truthNames, "\(fixture): tensors mapped that the ground truth does not list")
    }
}
