import Foundation

/// Any JSON value, decoded strictly: integers stay exact Int64 (token ids, byte offsets), other
/// numbers are Double. Used for the safetensors header and to keep a config.json's unknown fields.
public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let v): try container.encode(v)
        case .int(let v): try container.encode(v)
        case .double(let v): try container.encode(v)
        case .string(let v): try container.encode(v)
        case .array(let v): try container.encode(v)
        case .object(let v): try container.encode(v)
        }
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let v) = self { return v }
        return nil
    }
    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }
    /// Exact integers only (also a Double with an integral value, as some writers emit 1e5).
    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v) where v.rounded() == v && abs(v) < 9.0e15: return Int64(v)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }
    public var arrayValue: [JSONValue]? {
        if case .array(let v) = self { return v }
        return nil
    }
    public var isNull: Bool { self == .null }
}

/// A value in error messages as the JSON text it came from (`[1, 1e+23]`, `"silu"`), never as
/// the enum's cases. Long values are cut at 200 characters.
extension JSONValue: CustomStringConvertible {
    public var description: String {
        let text = json
        return text.count > 200 ? String(text.prefix(200)) + "..." : text
    }

    var json: String {
        switch self {
        case .null: return "null"
        case .bool(let v): return v ? "true" : "false"
        case .int(let v): return String(v)
        case .double(let v): return "\(v)"
        case .string(let v): return v.debugDescription
        case .array(let v): return "[" + v.map(\.json).joined(separator: ", ") + "]"
        case .object(let v): return "{" + v.sorted { $0.key < $1.key }.map { "\($0.key.debugDescription): \($0.value.json)" }.joined(separator: ", ") + "}"
        }
    }
}
