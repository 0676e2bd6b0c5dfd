import Foundation

/// The globals, filters, tests and methods the renderer implements: those of jinja2 that small
/// instruct models' chat templates use, plus transformers' `raise_exception`, `strftime_now` and
/// `tojson` (json.dumps with ensure_ascii=False). Any other name is refused naming it.
enum Builtins {
    static let functions: Set<String> = ["raise_exception", "strftime_now", "range", "namespace", "dict"]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get"]
    static let stringMethods: Set<String> = ["strip", "lstrip", "rstrip", "split", "startswith", "endswith", "upper", "lower", "replace", "title"]

    private static func fail(_ message: String, _ p: SourcePosition, _ ev: Evaluator) -> TemplateError {
        TemplateError(.runtime, message, origin: ev.origin, line: p.line, column: p.column)
    }

    private static func unsupported(_ construct: String, _ message: String, _ p: SourcePosition, _ ev: Evaluator) -> TemplateError {
        TemplateError(.unsupported(construct: construct), message, origin: ev.origin, line: p.line, column: p.column)
    }

    /// Python's str.isspace for one scalar.
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
    }

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let isStripped: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? isPythonSpace(c) }
        var scalars = Array(s.unicodeScalars)[...]
        if leading { while let f = scalars.first, isStripped(f) { scalars.removeFirst() } }
        if trailing { while let l = scalars.last, isStripped(l) { scalars.removeLast() } }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    private static func checkArguments(_ name: String, _ args: [Value], _ kwargs: [(String, Value)], allowed: [String], _ p: SourcePosition, _ ev: Evaluator) throws -> [String: Value] {
        guard args.count <= allowed.count else {
            throw fail("'\(name)' takes at most \(allowed.count) arguments, got \(args.count)", p, ev)
        }
        var bound: [String: Value] = [:]
        for (i, a) in args.enumerated() { bound[allowed[i]] = a }
        for (k, v) in kwargs {
            guard allowed.contains(k) else {
                throw unsupported("the argument '\(k)=' of '\(name)'", "supported: \(allowed.isEmpty ? "none" : allowed.joined(separator: ", "))", p, ev)
            }
            bound[k] = v
        }
        return bound
    }

    private static func string(_ v: Value?, _ what: String, _ p: SourcePosition, _ ev: Evaluator) throws -> String? {
        switch v {
        case nil, .none?: return nil
        case .string(let s)?: return s
        case let x?: throw fail("\(what) must be a string, not '\(x.typeName)'", p, ev)
        }
    }

    static func function(_ name: String, _ args: [Value], _ kwargs: [(String, Value)], at p: SourcePosition, in ev: Evaluator) throws -> Value {
        switch name {
        case "raise_exception":
            let a = try checkArguments(name, args, kwargs, allowed: ["message"], p, ev)
            throw TemplateError(.raised, a["message"]?.text ?? "", origin: ev.origin, line: p.line, column: p.column)
        case "strftime_now":
            let a = try checkArguments(name, args, kwargs, allowed: ["format"], p, ev)
            guard let format = try string(a["format"], "strftime_now's format", p, ev) else {
                throw fail("strftime_now needs a format", p, ev)
            }
            return .string(try strftime(format, ev.now, p, ev))
        case "range":
            guard kwargs.isEmpty, (1...3).contains(args.count) else { throw fail("range takes 1 to 3 integers", p, ev) }
            var ints: [Int] = []
            for a in args {
                guard case .int(let i) = a else { throw fail("range takes integers, not '\(a.typeName)'", p, ev) }
                ints.append(i)
            }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw fail("range step must not be zero", p, ev) }
            return .array(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
        case "namespace", "dict":
            guard args.isEmpty else { throw unsupported("positional arguments to \(name)()", "use keyword arguments", p, ev) }
            let o = Value.Object(kwargs)
            return name == "dict" ? .object(o) : .namespace(Value.Namespace(o))
        default:
            throw unsupported("the function '\(name)()'", "supported functions: \(functions.sorted().joined(separator: ", "))", p, ev)
        }
    }

    static func method(_ target: Value, _ name: String, _ args: [Value], _ kwargs: [(String, Value)], at p: SourcePosition, in ev: Evaluator) throws -> Value {
        switch target {
        case .undefined(let n):
            throw fail("'\(n)' is undefined (calling its method '\(name)')", p, ev)
        case .string(let s):
            switch name {
            case "strip", "lstrip", "rstrip":
                let a = try checkArguments(name, args, kwargs, allowed: ["chars"], p, ev)
                let chars = try string(a["chars"], "\(name)'s argument", p, ev)
                return .string(strip(s, chars, leading: name != "rstrip", trailing: name != "lstrip"))
            case "startswith", "endswith":
                let a = try checkArguments(name, args, kwargs, allowed: ["prefix"], p, ev)
                guard let x = try string(a["prefix"], "\(name)'s argument", p, ev) else { throw fail("\(name) needs a string", p, ev) }
                return .bool(name == "startswith" ? s.unicodeScalars.starts(with: x.unicodeScalars)
                                                  : s.unicodeScalars.reversed().starts(with: x.unicodeScalars.reversed()))
            case "upper": return .string(s.uppercased())
            case "lower": return .string(s.lowercased())
            case "replace":
                let a = try checkArguments(name, args, kwargs, allowed: ["old", "new"], p, ev)
                guard let old = try string(a["old"], "replace's old", p, ev), let new = try string(a["new"], "replace's new", p, ev) else {
                    throw fail("replace needs two strings", p, ev)
                }
                return .string(replace(s, old, new))
            case "split":
                let a = try checkArguments(name, args, kwargs, allowed: ["sep"], p, ev)
                if let sep = try string(a["sep"], "split's separator", p, ev) {
                    guard !sep.isEmpty else { throw fail("empty separator", p, ev) }
                    return .array(s.components(separatedBy: sep).map { .string($0) })
                }
                return .array(s.unicodeScalars.split(whereSeparator: isPythonSpace).map { .string(String(String.UnicodeScalarView($0))) })
            default: break
            }
        case .object(let o):
            switch name {
            case "items":
                _ = try checkArguments(name, args, kwargs, allowed: [], p, ev)
                return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            case "keys":
                _ = try checkArguments(name, args, kwargs, allowed: [], p, ev)
                return .array(o.keys.map { .string($0) })
            case "values":
                _ = try checkArguments(name, args, kwargs, allowed: [], p, ev)
                return .array(o.pairs.map { $0.1 })
            case "get":
                let a = try checkArguments(name, args, kwargs, allowed: ["key", "default"], p, ev)
                guard case .string(let k)? = a["key"] else { return a["default"] ?? .none }
                return o[k] ?? a["default"] ?? .none
            default: break
            }
        default: break
        }
        throw unsupported("the method '.\(name)()' on a \(target.typeName)", "not implemented", p, ev)
    }

    /// Python's str.replace (all occurrences; an empty `old` inserts between every character).
    static func replace(_ s: String, _ old: String, _ new: String) -> String {
        if old.isEmpty {
            return new + s.unicodeScalars.map { String($0) + new }.joined()
        }
        // Scalar-wise, so that combining characters are matched as Python matches code points.
        let hay = Array(s.unicodeScalars), needle = Array(old.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < hay.count {
            if i + needle.count <= hay.count, Array(hay[i..<(i + needle.count)]) == needle {
                out.append(contentsOf: new.unicodeScalars)
                i += needle.count
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return String(out)
    }

    static func filter(_ name: String, _ v: Value, _ args: [Value], _ kwargs: [(String, Value)], at p: SourcePosition, in ev: Evaluator) throws -> Value {
        switch name {
        case "trim":
            let a = try checkArguments(name, args, kwargs, allowed: ["chars"], p, ev)
            return .string(strip(v.text, try string(a["chars"], "trim's chars", p, ev), leading: true, trailing: true))
        case "length", "count":
            _ = try checkArguments(name, args, kwargs, allowed: [], p, ev)
            switch v {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.count)
            default: throw fail("object of type '\(v.typeName)' has no len()", p, ev)
            }
        case "tojson":
            let a = try checkArguments(name, args, kwargs, allowed: ["indent"], p, ev)
            var indent: Int? = nil
            switch a["indent"] {
            case nil, .none?: break
            case .int(let i)?: indent = i
            case let x?: throw unsupported("tojson(indent=\(x.repr))", "indent must be an integer", p, ev)
            }
            do { return .string(try JSONText.dump(v, indent: indent)) }
            catch let e as JSONText.JSONError { throw fail("tojson: object of type '\(e.typeName)' is not JSON serializable", p, ev) }
        case "upper": return .string(v.text.uppercased())
        case "lower": return .string(v.text.lowercased())
        case "string": return .string(v.text)
        case "safe": return v
        case "capitalize":
            let s = v.text
            guard let first = s.unicodeScalars.first else { return .string("") }
            return .string(String(first).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased())
        case "first", "last":
            let items: [Value]
            switch v {
            case .array(let a): items = a
            case .string(let s): items = s.unicodeScalars.map { .string(String($0)) }
            default: throw fail("'\(name)' needs a list or string, not '\(v.typeName)'", p, ev)
            }
            return (name == "first" ? items.first : items.last) ?? .undefined("\(name) of an empty sequence")
        case "join":
            let a = try checkArguments(name, args, kwargs, allowed: ["d"], p, ev)
            let sep = try string(a["d"], "join's separator", p, ev) ?? ""
            let items: [Value]
            switch v {
            case .array(let x): items = x
            case .string(let s): items = s.unicodeScalars.map { .string(String($0)) }
            case .undefined: items = []
            default: throw fail("'join' needs a list, not '\(v.typeName)'", p, ev)
            }
            return .string(items.map { $0.text }.joined(separator: sep))
        case "default", "d":
            let a = try checkArguments(name, args, kwargs, allowed: ["default_value", "boolean"], p, ev)
            let useDefault = v.isUndefined || ((a["boolean"]?.truthy ?? false) && !v.truthy)
            return useDefault ? (a["default_value"] ?? .string("")) : v
        case "replace":
            let a = try checkArguments(name, args, kwargs, allowed: ["old", "new"], p, ev)
            guard let old = try string(a["old"], "replace's old", p, ev), let new = try string(a["new"], "replace's new", p, ev) else {
                throw fail("replace needs two strings", p, ev)
            }
            return .string(replace(v.text, old, new))
        case "list":
            switch v {
            case .array: return v
            case .string(let s): return .array(s.unicodeScalars.map { .string(String($0)) })
            case .object(let o): return .array(o.keys.map { .string($0) })
            case .undefined: return .array([])
            default: throw fail("'\(v.typeName)' object is not iterable", p, ev)
            }
        case "items":
            switch v {
            case .object(let o): return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
            case .undefined: return .array([])
            default: throw fail("'items' needs a dict, not '\(v.typeName)'", p, ev)
            }
        case "reverse":
            switch v {
            case .array(let a): return .array(a.reversed())
            case .string(let s): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
            default: throw fail("'reverse' needs a list or string, not '\(v.typeName)'", p, ev)
            }
        case "abs":
            switch v {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw fail("bad operand type for abs(): '\(v.typeName)'", p, ev)
            }
        default:
            throw unsupported("the filter '|\(name)'", "supported filters: abs, capitalize, count, d, default, first, items, join, last, length, list, lower, replace, reverse, safe, string, tojson, trim, upper", p, ev)
        }
    }

    static func test(_ name: String, _ v: Value, _ args: [Value], at p: SourcePosition, in ev: Evaluator) throws -> Bool {
        func noArguments() throws {
            if !args.isEmpty { throw fail("the test '\(name)' takes no argument", p, ev) }
        }
        func oneArgument() throws -> Value {
            guard args.count == 1 else { throw fail("the test '\(name)' takes one argument", p, ev) }
            return args[0]
        }
        switch name {
        case "defined": try noArguments(); return !v.isUndefined
        case "undefined": try noArguments(); return v.isUndefined
        case "none": try noArguments(); if case .none = v { return true }; return false
        case "string": try noArguments(); if case .string = v { return true }; return false
        case "mapping": try noArguments(); if case .object = v { return true }; return false
        case "boolean": try noArguments(); if case .bool = v { return true }; return false
        case "true": try noArguments(); if case .bool(true) = v { return true }; return false
        case "false": try noArguments(); if case .bool(false) = v { return true }; return false
        case "integer": try noArguments(); if case .int = v { return true }; return false
        case "float": try noArguments(); if case .double = v { return true }; return false
        case "number":
            try noArguments()
            switch v { case .int, .double, .bool: return true; default: return false }
        case "iterable":
            try noArguments()
            switch v { case .undefined, .string, .array, .object: return true; default: return false }
        case "sequence":
            try noArguments()
            switch v { case .string, .array, .object: return true; default: return false }
        case "even", "odd":
            try noArguments()
            guard case .int(let i) = v else { throw fail("the test '\(name)' needs an integer, not '\(v.typeName)'", p, ev) }
            return (i % 2 == 0) == (name == "even")
        case "divisibleby":
            guard case .int(let i) = v, case .int(let d) = try oneArgument(), d != 0 else {
                throw fail("the test 'divisibleby' needs integers", p, ev)
            }
            return i % d == 0
        case "eq", "equalto", "==": return Value.equal(v, try oneArgument())
        case "ne", "!=": return !Value.equal(v, try oneArgument())
        case "in": return try ev.compare("in", v, try oneArgument(), p)
        case "lower": try noArguments(); return v.text == v.text.lowercased() && { if case .string = v { return true }; return false }()
        case "upper": try noArguments(); return v.text == v.text.uppercased() && { if case .string = v { return true }; return false }()
        default:
            throw unsupported("the test 'is \(name)'", "supported tests: defined, undefined, none, string, mapping, iterable, sequence, number, integer, float, boolean, true, false, even, odd, divisibleby, eq, ne, in, lower, upper", p, ev)
        }
    }

    /// Python's strftime for the directives chat templates use (C locale).
    static func strftime(_ format: String, _ date: Date, _ p: SourcePosition, _ ev: Evaluator) throws -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        func two(_ i: Int) -> String { i < 10 ? "0\(i)" : "\(i)" }
        var out = ""
        var it = format.makeIterator()
        while let ch = it.next() {
            guard ch == "%" else { out.append(ch); continue }
            guard let d = it.next() else { out.append("%"); break }
            switch d {
            case "d": out += two(c.day!)
            case "m": out += two(c.month!)
            case "Y": out += String(c.year!)
            case "y": out += two(c.year! % 100)
            case "b": out += String(months[c.month! - 1].prefix(3))
            case "B": out += months[c.month! - 1]
            case "a": out += String(days[c.weekday! - 1].prefix(3))
            case "A": out += days[c.weekday! - 1]
            case "H": out += two(c.hour!)
            case "M": out += two(c.minute!)
            case "S": out += two(c.second!)
            case "%": out += "%"
            default:
                throw unsupported("the strftime directive '%\(d)'", "supported: %d %m %Y %y %b %B %a %A %H %M %S %%", p, ev)
            }
        }
        return out
    }
}
