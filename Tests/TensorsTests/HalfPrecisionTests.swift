import Testing
@testable import Tensors

/// Bit patterns from the IEEE 754 binary16 and bfloat16 definitions.
@Suite struct HalfPrecisionTests {
    @Test func float16KnownValues() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (-0.0, 0x8000), (1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF), (0.5, 0x3800),
            (Float.infinity, 0x7C00), (-Float.infinity, 0xFC00),
            (5.960_464_5e-8, 0x0001),    // smallest subnormal
            (6.103_515_6e-5, 0x0400),    // smallest normal
            (6.097_555e-5, 0x03FF),      // largest subnormal
            (1e-9, 0x0000),              // underflows to zero
            (65520, 0x7C00),             // rounds up to infinity
            (1 + 1.0 / 2048, 0x3C00),    // a tie rounds to even (down)
            (1 + 3.0 / 2048, 0x3C02),    // a tie rounds to even (up)
        ]
        for (value, bits) in cases {
            #expect(HalfPrecision.float16Bits(from: value) == bits, "fp16 of \(value)")
        }
        for (value, bits) in cases where value != 65520 && value != 1e-9 && value != 1 + 1.0 / 2048 && value != 1 + 3.0 / 2048 {
            #expect(HalfPrecision.float(fromFloat16Bits: bits) == value, "fp16 bits \(bits)")
        }
        #expect(HalfPrecision.float(fromFloat16Bits: 0x7E00).isNaN)
    }

    @Test func bfloat16KnownValues() {
        let cases: [(Float, UInt16)] = [
            (0, 0x0000), (1, 0x3F80), (-2, 0xC000), (3.140625, 0x4049), (Float.infinity, 0x7F80),
            (Float(bitPattern: 0x3F80_8000), 0x3F80),  // tie, even stays
            (Float(bitPattern: 0x3F81_8000), 0x3F82),  // tie, odd rounds up
            (Float(bitPattern: 0x3F80_8001), 0x3F81),  // above the tie
            (Float.greatestFiniteMagnitude, 0x7F80),   // rounds to infinity
        ]
        for (value, bits) in cases {
            #expect(HalfPrecision.bfloat16Bits(from: value) == bits, "bf16 of \(value)")
        }
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x4049) == 3.140625)
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: .nan)).isNaN)
    }

    @Test func everyHalfPatternRoundTrips() {
        // Collected rather than expected one by one: 65,536 patterns of each kind.
        var f16Failures: [UInt16] = [], bf16Failures: [UInt16] = []
        for bits in UInt16.min...UInt16.max {
            let f16 = HalfPrecision.float(fromFloat16Bits: bits)
            if !f16.isNaN && HalfPrecision.float16Bits(from: f16) != bits { f16Failures.append(bits) }
            let bf16 = HalfPrecision.float(fromBFloat16Bits: bits)
            if !bf16.isNaN && HalfPrecision.bfloat16Bits(from: bf16) != bits { bf16Failures.append(bits) }
        }
        #expect(f16Failures.isEmpty, "fp16 patterns that do not round-trip: \(f16Failures.prefix(10))")
        #expect(bf16Failures.isEmpty, "bf16 patterns that do not round-trip: \(bf16Failures.prefix(10))")
    }
}
