import Foundation
import Testing
import Tensors
@testable import ModelIO
@testable import Transformer

/// The buffer plan is what the activations really hold: its byte count equals the memory the
/// allocator reserved for `Activations` (and the backward's gradient buffers), as the allocator
/// itself reports it (`malloc_usable_size`), and every planned buffer lies inside one
/// allocation without overlapping another.
@Suite struct BufferPlanTests {
    @Test(arguments: ["llama-hf", "qwen2-hf", "qwen3-hf", "gpt2-hf"], [false, true])
    func planBytesEqualTheAllocations(fixture: String, keepsLayers: Bool) throws {
        let config = try ReferenceData.model(fixture).config
        let a = Activations(config: config, capacity: 37, logitCapacity: 5, keepsLayers: keepsLayers)
        if keepsLayers { _ = a.gradientScratch() }
        let plan = a.plan
        #expect(plan.layerSlots == (keepsLayers ? config.layers : 1))
        #expect(plan.gradients.isEmpty == !keepsLayers)
        var reserved = 0
        for (base, floats, pointers) in a.allocations {
            let requested = floats * MemoryLayout<Float>.size
            #if os(Linux)
            // What the allocator set aside: at least the request, at most a page more (an mmap'd
            // chunk is rounded up to whole pages, a heap chunk to 16 bytes).
            let usable = mallocUsableSize(UnsafeMutableRawPointer(base))
            #expect(usable >= requested && usable < requested + 4096,
                    "\(fixture): the allocator reserved \(usable) bytes for a request of \(requested)")
            #endif
            reserved += requested
            // Each buffer inside its allocation, none overlapping the next.
            let sizes = Dictionary((plan.shared + plan.layer + plan.gradients).map { ($0.name, $0.paddedFloats) }) { a, _ in a }
            // By start, an empty buffer before the one that starts where it does.
            let spans = pointers.map { (name: $0.key, start: $0.value - base, size: sizes[$0.key]) }
                .sorted { ($0.start, $0.size ?? 0) < ($1.start, $1.size ?? 0) }
            for (i, span) in spans.enumerated() {
                let size = try #require(span.size, "\(span.name) allocated but not in the plan")
                let end = i + 1 < spans.count ? spans[i + 1].start : floats
                #expect(span.start >= 0 && span.start + size <= end, "\(fixture): buffer \(span.name) at \(span.start) + \(size) runs past \(end)")
            }
        }
        #expect(reserved == plan.bytes, "\(fixture): allocated \(reserved) bytes, the plan says \(plan.bytes)")
    }

    /// The plan of a llama-hf training forward, counted by hand (h 32, heads 4 x head dim 8 = q 32,
    /// kv 2 x 8 = 16, intermediate 64, vocabulary 128, 2 layers), 10 tokens, 10 logit rows; each
    /// buffer rounded up to 16 floats.
    @Test func llamaPlanMatchesTheHandCount() throws {
        let config = try ReferenceData.model("llama-hf").config
        let plan = BufferPlan(config: config, tokens: 10, logitRows: 10, keepsLayers: true, backward: true)
        // Shared: x, finalIn, finalOut 320 each; finalMean 0; finalRstd 10 -> 16; logits 1280.
        #expect(Self.floats(plan.shared) == 3 * 320 + 16 + 1280)
        // Layer: xIn, norm1 320 each; rstd1 16; q 320; k, v 160 each; attn 320; lse 40 -> 48;
        // xMid, norm2 320 each; rstd2 16; hidden, up, act 640 each.
        #expect(Self.floats(plan.layer) == 320 + 320 + 16 + 320 + 160 + 160 + 320 + 48 + 320 + 320 + 16 + 3 * 640)
        // Gradients: dx, dNorm 320; dAttn, dq 320; dk, dv 160; dAct, dHidden, dUp 640.
        #expect(plan.gradientFloats == 4 * 320 + 2 * 160 + 3 * 640)
        #expect(plan.bytes == 4 * ((3 * 320 + 16 + 1280) + 2 * 4240 + 3520))
    }

    static func floats(_ buffers: [BufferPlan.Buffer]) -> Int { buffers.reduce(0) { $0 + $1.paddedFloats } }
}

#if os(Linux)
/// glibc's `malloc_usable_size` (declared in malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_usable_size")
func mallocUsableSize(_ pointer: UnsafeMutableRawPointer?) -> Int
#endif
