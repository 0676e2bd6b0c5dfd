import Testing
@testable import ModelFiles

@Suite("fp16 / bf16 conversion")
struct HalfPrecisionTests {
    @Test("binary16 decode of special and boundary patterns")
    func decode16() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x0001, 5.9604645e-08),
            (0x03FF, 6.097555e-05), (0x0400, 6.1035156e-05), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        for (bits, value) in cases {
            #expect(HalfPrecision.float(fromFloat16Bits: bits) == value, "bits \(bits)")
        }
        #expect(HalfPrecision.float(fromFloat16Bits: 0x7E00).isNaN)
        #expect(HalfPrecision.float(fromFloat16Bits: 0x8000).sign == .minus)
    }

    @Test("binary16 encode round-trips every finite half and rounds to nearest even")
    func encode16() {
        for bits in UInt16.min...UInt16.max where bits & 0x7C00 != 0x7C00 {
            let value = HalfPrecision.float(fromFloat16Bits: bits)
            #expect(HalfPrecision.float16Bits(from: value) == bits)
        }
        #expect(HalfPrecision.float16Bits(from: 65520) == 0x7C00, "past max rounds to inf")
        #expect(HalfPrecision.float16Bits(from: 1 + 1.0 / 2048) == 0x3C00, "tie rounds to even")
        #expect(HalfPrecision.float16Bits(from: 1 + 3.0 / 2048) == 0x3C02, "tie rounds to even (up)")
        #expect(HalfPrecision.float16Bits(from: 1e-9) == 0)
        #expect(HalfPrecision.float16Bits(from: .nan) & 0x7E00 == 0x7E00)
    }

    @Test("bfloat16 round to nearest even, as torch")
    func bfloat16() {
        #expect(HalfPrecision.bfloat16Bits(from: 1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80, "tie to even")
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82, "tie to even (up)")
        #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC049) == -3.140625)
        #expect(HalfPrecision.bfloat16Bits(from: .nan) & 0x7FC0 == 0x7FC0)
    }
}
