import Foundation

/// A Jinja value, with the Python semantics transformers' templates see: messages are dicts of
/// strings, `none` is Python's None, `undefined` is jinja2's Undefined (prints as nothing, is false,
/// fails on attribute access).
public enum Value {
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    case object(Object)
    case namespace(Namespace)

    /// A dict with string keys that keeps insertion order (as Python's dict does).
    public struct Object {
        public private(set) var keys: [String] = []
        private var storage: [String: Value] = [:]
        public init() {}
        public init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }
        public subscript(key: String) -> Value? {
            get { storage[key] }
            set {
                if storage[key] == nil, newValue != nil { keys.append(key) }
                if newValue == nil { keys.removeAll { $0 == key } }
                storage[key] = newValue
            }
        }
        public var count: Int { keys.count }
        var pairs: [(String, Value)] { keys.map { ($0, storage[$0]!) } }
    }

    /// jinja2's `namespace(...)`: the one mutable object a template can assign attributes on.
    public final class Namespace {
        var values: Object
        init(_ values: Object) { self.values = values }
    }

    /// Builds a value from JSON-like Swift data (String, Int, Double, Bool, NSNull, arrays, dicts).
    public static func from(_ any: Any?) -> Value {
        switch any {
        case nil: return .none
        case let v as Value: return v
        case is NSNull: return .none
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let a as [Any]: return .array(a.map { from($0) })
        case let d as [String: Any]: return .object(Object(d.keys.sorted().map { ($0, from(d[$0])) }))
        default: return .string(String(describing: any!))
        }
    }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }

    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return o.count > 0
        case .namespace: return true
        }
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "none"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .array: return "list"
        case .object: return "dict"
        case .namespace: return "namespace"
        }
    }

    /// Python's `str(value)`, as `{{ value }}` prints it.
    var text: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's `repr(value)`.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Value.pythonFloat(d)
        case .string(let s): return Value.pythonStringRepr(s)
        case .array(let a): return "[" + a.map { $0.repr }.joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.pairs.map { Value.pythonStringRepr($0.0) + ": " + $0.1.repr }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + Value.object(n.values).repr + ">"
        }
    }

    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        // Swift's shortest round-trip digits match Python's repr, as does the switch to
        // exponent notation at 1e16 and below 1e-4.
        return d.description
    }

    static func pythonStringRepr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(c) == quote { out += "\\" + String(quote) }
                else if c.value < 0x20 || c.value == 0x7f { out += String(format: "\\x%02x", c.value) }
                else { out.unicodeScalars.append(c) }
            }
        }
        return out + String(quote)
    }

    /// Python `==`.
    static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.bool(let x), .int(let y)), (.int(let y), .bool(let x)): return (x ? 1 : 0) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.keys.allSatisfy { k in y[k].map { equal(x[k]!, $0) } ?? false }
        case (.namespace(let x), .namespace(let y)): return x === y
        default: return false
        }
    }
}

extension Value.Object: Equatable {
    public static func == (a: Value.Object, b: Value.Object) -> Bool { Value.equal(.object(a), .object(b)) }
}

extension Value: Equatable {
    public static func == (a: Value, b: Value) -> Bool { equal(a, b) }
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)`, transformers' `tojson`.
enum JSONText {
    static func dump(_ v: Value, indent: Int?, level: Int = 0) throws -> String {
        switch v {
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            return Value.pythonFloat(d)
        case .string(let s): return quote(s)
        case .array(let a):
            if a.isEmpty { return "[]" }
            let items = try a.map { try dump($0, indent: indent, level: level + 1) }
            return wrap("[", "]", items, indent: indent, level: level)
        case .object(let o):
            if o.count == 0 { return "{}" }
            let items = try o.pairs.map { quote($0.0) + ": " + (try dump($0.1, indent: indent, level: level + 1)) }
            return wrap("{", "}", items, indent: indent, level: level)
        case .undefined, .namespace:
            throw JSONError(typeName: v.typeName)
        }
    }

    struct JSONError: Error { let typeName: String }

    private static func wrap(_ open: String, _ close: String, _ items: [String], indent: Int?, level: Int) -> String {
        guard let indent else { return open + items.joined(separator: ", ") + close }
        let inner = "\n" + String(repeating: " ", count: indent * (level + 1))
        let outer = "\n" + String(repeating: " ", count: indent * level)
        return open + inner + items.joined(separator: "," + inner) + outer + close
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
