/// GPT-2's reversible map between bytes and printable code points, so every byte sequence is a string
/// of visible characters: printable Latin-1 bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) map to themselves, the
/// other 68 bytes (controls, space, DEL, NBSP, soft hyphen) map in byte order to U+0100, U+0101, ...
enum ByteLevelTable {
    /// byte -> code point, 256 entries.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// code point (< 324) -> byte, or -1 where the code point is not in the table.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() {
            table[Int(scalar.value)] = Int16(byte)
        }
        return table
    }()

    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
        return UInt8(scalarToByte[v])
    }

    /// Appends the byte-level form of `scalars`' UTF-8 bytes, one code point per byte.
    static func map(_ scalars: ArraySlice<Unicode.Scalar>, into out: inout [Unicode.Scalar]) {
        let table = byteToScalar
        for scalar in scalars {
            if scalar.value < 0x80 {
                out.append(table[Int(scalar.value)])
            } else {
                UTF8.encode(scalar) { out.append(table[Int($0)]) }
            }
        }
    }
}
