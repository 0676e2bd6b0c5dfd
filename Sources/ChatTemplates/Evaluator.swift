import Foundation

/// Walks the syntax tree with Python/jinja2 semantics and writes the rendered text.
final class Evaluator {
    let origin: String
    let now: Date
    private var scopes: [[String: Value]]
    private var output = ""

    private enum LoopControl: Error { case breakLoop, continueLoop }

    init(origin: String, globals: [String: Value], now: Date) {
        self.origin = origin
        self.now = now
        self.scopes = [globals]
    }

    func render(_ nodes: [Node]) throws -> String {
        try run(nodes)
        return output
    }

    private func fail(_ message: String, _ p: SourcePosition) -> TemplateError {
        TemplateError(.runtime, message, origin: origin, line: p.line, column: p.column)
    }

    private func unsupported(_ construct: String, _ message: String, _ p: SourcePosition) -> TemplateError {
        TemplateError(.unsupported(construct: construct), message, origin: origin, line: p.line, column: p.column)
    }

    private func lookup(_ name: String) -> Value? {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return nil
    }

    private func run(_ nodes: [Node]) throws {
        for node in nodes {
            switch node {
            case .text(let t): output += t
            case .output(let e): output += try eval(e).text
            case .conditional(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches where try eval(condition).truthy {
                    try run(body)
                    taken = true
                    break
                }
                if !taken { try run(otherwise) }
            case .set(let target, let e, let p):
                let value = try eval(e)
                switch target {
                case .name(let n): scopes[scopes.count - 1][n] = value
                case .attribute(let n, let attr):
                    guard case .namespace(let ns)? = lookup(n) else {
                        throw fail("'{% set \(n).\(attr) = ... %}' needs '\(n)' to be a namespace()", p)
                    }
                    ns.values[attr] = value
                }
            case .breakLoop: throw LoopControl.breakLoop
            case .continueLoop: throw LoopControl.continueLoop
            case .loop(let targets, let iterableExpr, let filter, let body, let otherwise, let p):
                try runLoop(targets, iterableExpr, filter, body, otherwise, p)
            }
        }
    }

    private func iterate(_ v: Value, _ p: SourcePosition) throws -> [Value] {
        switch v {
        case .undefined: return []
        case .array(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw fail("'\(v.typeName)' object is not iterable", p)
        }
    }

    private func bind(_ targets: [String], _ item: Value, into scope: inout [String: Value], _ p: SourcePosition) throws {
        if targets.count == 1 { scope[targets[0]] = item; return }
        let parts = try iterate(item, p)
        guard parts.count == targets.count else {
            throw fail("cannot unpack \(parts.count) values into \(targets.count) names", p)
        }
        for (t, v) in zip(targets, parts) { scope[t] = v }
    }

    private func runLoop(_ targets: [String], _ iterableExpr: Expr, _ filter: Expr?, _ body: [Node], _ otherwise: [Node], _ p: SourcePosition) throws {
        var items = try iterate(try eval(iterableExpr), p)
        if let filter {
            var kept: [Value] = []
            for item in items {
                var scope: [String: Value] = [:]
                try bind(targets, item, into: &scope, p)
                scopes.append(scope)
                defer { scopes.removeLast() }
                if try eval(filter).truthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            try run(otherwise)
            return
        }
        let n = items.count
        for (i, item) in items.enumerated() {
            var scope: [String: Value] = [:]
            var loop = Value.Object()
            loop["index"] = .int(i + 1)
            loop["index0"] = .int(i)
            loop["revindex"] = .int(n - i)
            loop["revindex0"] = .int(n - i - 1)
            loop["first"] = .bool(i == 0)
            loop["last"] = .bool(i == n - 1)
            loop["length"] = .int(n)
            loop["depth"] = .int(1)
            loop["depth0"] = .int(0)
            loop["previtem"] = i > 0 ? items[i - 1] : .undefined("loop.previtem")
            loop["nextitem"] = i + 1 < n ? items[i + 1] : .undefined("loop.nextitem")
            scope["loop"] = .object(loop)
            try bind(targets, item, into: &scope, p)
            scopes.append(scope)
            defer { scopes.removeLast() }
            do {
                try run(body)
            } catch LoopControl.continueLoop {
                continue
            } catch LoopControl.breakLoop {
                break
            }
        }
    }

    // MARK: expressions

    func eval(_ e: Expr) throws -> Value {
        let p = e.position
        switch e.kind {
        case .literal(let v): return v
        case .name(let n):
            if let v = lookup(n) { return v }
            if Builtins.functions.contains(n) {
                throw unsupported("'\(n)' used without calling it", "call it: \(n)(...)", p)
            }
            return .undefined(n)
        case .list(let items): return .array(try items.map { try eval($0) })
        case .tuple:
            // Python prints a tuple as (a, b); values here have no tuple kind, so refuse rather than print [a, b].
            throw unsupported("a tuple literal", "use a list [a, b]", p)
        case .dict(let pairs):
            var o = Value.Object()
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k) else {
                    throw unsupported("a dict key that is not a string", "use string keys", k.position)
                }
                o[key] = try eval(v)
            }
            return .object(o)
        case .attribute(let target, let name):
            let t = try eval(target)
            return try attribute(t, name, p)
        case .item(let target, let indexExpr):
            let t = try eval(target)
            let i = try eval(indexExpr)
            return try item(t, i, p)
        case .slice(let target, let a, let b, let c):
            let t = try eval(target)
            return try slice(t, a.map { try eval($0) }, b.map { try eval($0) }, c.map { try eval($0) }, p)
        case .call(let callee, let argExprs, let kwargExprs):
            let args = try argExprs.map { try eval($0) }
            var kwargs: [(String, Value)] = []
            for (k, v) in kwargExprs { kwargs.append((k, try eval(v))) }
            return try call(callee, args, kwargs, p)
        case .filter(let target, let name, let argExprs, let kwargExprs):
            let t = try eval(target)
            let args = try argExprs.map { try eval($0) }
            var kwargs: [(String, Value)] = []
            for (k, v) in kwargExprs { kwargs.append((k, try eval(v))) }
            return try Builtins.filter(name, t, args, kwargs, at: p, in: self)
        case .test(let target, let name, let argExprs, let negated):
            if case .name(let n) = target.kind, lookup(n) == nil, Builtins.functions.contains(n),
               name == "defined" || name == "undefined", argExprs.isEmpty {
                // `strftime_now is defined`: the globals transformers provides are defined.
                return .bool((name == "defined") != negated)
            }
            let t = try eval(target)
            let args = try argExprs.map { try eval($0) }
            let result = try Builtins.test(name, t, args, at: p, in: self)
            return .bool(negated ? !result : result)
        case .negate(let x):
            switch try eval(x) {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case let v: throw fail("bad operand type for unary -: '\(v.typeName)'", p)
            }
        case .plus(let x):
            let v = try eval(x)
            switch v {
            case .int, .double: return v
            default: throw fail("bad operand type for unary +: '\(v.typeName)'", p)
            }
        case .not(let x): return .bool(!(try eval(x).truthy))
        case .and(let a, let b):
            let left = try eval(a)
            return left.truthy ? try eval(b) : left
        case .or(let a, let b):
            let left = try eval(a)
            return left.truthy ? left : try eval(b)
        case .binary(let op, let a, let b):
            return try binary(op, try eval(a), try eval(b), p)
        case .compare(let first, let rest):
            var left = try eval(first)
            for (op, rightExpr) in rest {
                let right = try eval(rightExpr)
                if !(try compare(op, left, right, rightExpr.position)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let value, let condition, let otherwise):
            if try eval(condition).truthy { return try eval(value) }
            return try otherwise.map { try eval($0) } ?? .undefined("conditional expression without else")
        }
    }

    func requireDefined(_ v: Value, _ p: SourcePosition) throws {
        if case .undefined(let name) = v { throw fail("'\(name)' is undefined", p) }
    }

    private func attribute(_ t: Value, _ name: String, _ p: SourcePosition) throws -> Value {
        switch t {
        case .undefined(let n): throw fail("'\(n)' is undefined (reading its attribute '\(name)')", p)
        case .object(let o):
            if Builtins.dictMethods.contains(name) {
                throw unsupported("the dict method '.\(name)' used without calling it", "call it", p)
            }
            return o[name] ?? .undefined(name)
        case .namespace(let ns): return ns.values[name] ?? .undefined(name)
        case .string:
            if Builtins.stringMethods.contains(name) {
                throw unsupported("the string method '.\(name)' used without calling it", "call it", p)
            }
            return .undefined(name)
        default: return .undefined(name)
        }
    }

    private func item(_ t: Value, _ i: Value, _ p: SourcePosition) throws -> Value {
        switch (t, i) {
        case (.undefined(let n), _): throw fail("'\(n)' is undefined (subscripting it)", p)
        case (.object(let o), .string(let k)):
            return o[k] ?? .undefined(k)
        case (.namespace(let ns), .string(let k)): return ns.values[k] ?? .undefined(k)
        case (.array(let a), .int(let k)):
            let j = k < 0 ? a.count + k : k
            return j >= 0 && j < a.count ? a[j] : .undefined("[\(k)]")
        case (.string(let s), .int(let k)):
            let scalars = Array(s.unicodeScalars)
            let j = k < 0 ? scalars.count + k : k
            return j >= 0 && j < scalars.count ? .string(String(scalars[j])) : .undefined("[\(k)]")
        case (_, .string(let k)): return try attribute(t, k, p)
        default: return .undefined("[\(i.repr)]")
        }
    }

    private func sliceIndices(_ count: Int, _ a: Value?, _ b: Value?, _ c: Value?, _ p: SourcePosition) throws -> [Int] {
        func intOrNil(_ v: Value?) throws -> Int? {
            switch v {
            case nil, .none?: return nil
            case .int(let i)?: return i
            case let x?: throw fail("slice indices must be integers or none, not '\(x.typeName)'", p)
            }
        }
        let step = try intOrNil(c) ?? 1
        guard step != 0 else { throw fail("slice step cannot be zero", p) }
        func clamp(_ v: Int?, _ defaultValue: Int) -> Int {
            guard var i = v else { return defaultValue }
            if i < 0 { i += count }
            if step > 0 { return min(max(i, 0), count) }
            return min(max(i, -1), count - 1)
        }
        let start = clamp(try intOrNil(a), step > 0 ? 0 : count - 1)
        let stop = clamp(try intOrNil(b), step > 0 ? count : -1)
        var out: [Int] = []
        var i = start
        while step > 0 ? i < stop : i > stop { out.append(i); i += step }
        return out
    }

    private func slice(_ t: Value, _ a: Value?, _ b: Value?, _ c: Value?, _ p: SourcePosition) throws -> Value {
        switch t {
        case .array(let items):
            return .array(try sliceIndices(items.count, a, b, c, p).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try sliceIndices(scalars.count, a, b, c, p) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined(let n): throw fail("'\(n)' is undefined (slicing it)", p)
        default: throw fail("'\(t.typeName)' object cannot be sliced", p)
        }
    }

    private func call(_ callee: Expr, _ args: [Value], _ kwargs: [(String, Value)], _ p: SourcePosition) throws -> Value {
        switch callee.kind {
        case .name(let n) where lookup(n) == nil:
            return try Builtins.function(n, args, kwargs, at: p, in: self)
        case .attribute(let targetExpr, let method):
            let target = try eval(targetExpr)
            return try Builtins.method(target, method, args, kwargs, at: p, in: self)
        default:
            let v = try eval(callee)
            if case .undefined(let n) = v { throw fail("'\(n)' is undefined (calling it)", p) }
            throw fail("'\(v.typeName)' object is not callable", p)
        }
    }

    private func binary(_ op: String, _ a: Value, _ b: Value, _ p: SourcePosition) throws -> Value {
        if op == "~" { return .string(a.text + b.text) }
        try requireDefined(a, p)
        try requireDefined(b, p)
        switch (op, a, b) {
        case ("+", .string(let x), .string(let y)): return .string(x + y)
        case ("+", .array(let x), .array(let y)): return .array(x + y)
        case ("*", .string(let x), .int(let n)), ("*", .int(let n), .string(let x)):
            return .string(String(repeating: x, count: max(n, 0)))
        case (_, .int(let x), .int(let y)):
            switch op {
            case "+": return .int(x + y)
            case "-": return .int(x - y)
            case "*": return .int(x * y)
            case "/":
                guard y != 0 else { throw fail("division by zero", p) }
                return .double(Double(x) / Double(y))
            case "//":
                guard y != 0 else { throw fail("integer division by zero", p) }
                return .int(Int((Double(x) / Double(y)).rounded(.down)))
            case "%":
                guard y != 0 else { throw fail("modulo by zero", p) }
                let r = x % y
                return .int(r != 0 && (r < 0) != (y < 0) ? r + y : r)
            case "**":
                guard y >= 0 else { return .double(pow(Double(x), Double(y))) }
                var r = 1
                for _ in 0..<y { r *= x }
                return .int(r)
            default: break
            }
        default: break
        }
        if let x = a.number, let y = b.number {
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/":
                guard y != 0 else { throw fail("division by zero", p) }
                return .double(x / y)
            case "//": return .double((x / y).rounded(.down))
            case "%": return .double(x - y * (x / y).rounded(.down))
            case "**": return .double(pow(x, y))
            default: break
            }
        }
        throw fail("unsupported operand types for \(op): '\(a.typeName)' and '\(b.typeName)'", p)
    }

    func compare(_ op: String, _ a: Value, _ b: Value, _ p: SourcePosition) throws -> Bool {
        switch op {
        case "==": return Value.equal(a, b)
        case "!=": return !Value.equal(a, b)
        case "in", "not in":
            let found: Bool
            switch b {
            case .string(let s):
                guard case .string(let needle) = a else { throw fail("'in <string>' requires a string on the left, not '\(a.typeName)'", p) }
                found = needle.isEmpty || s.contains(needle)
            case .array(let items): found = items.contains { Value.equal($0, a) }
            case .object(let o):
                if case .string(let k) = a { found = o[k] != nil } else { found = false }
            case .undefined: found = false
            default: throw fail("argument of type '\(b.typeName)' is not iterable", p)
            }
            return op == "in" ? found : !found
        default:
            let result: Bool
            if let x = a.number, let y = b.number {
                switch op { case "<": result = x < y; case ">": result = x > y; case "<=": result = x <= y; default: result = x >= y }
            } else if case .string(let x) = a, case .string(let y) = b {
                let xs = Array(x.unicodeScalars.map { $0.value }), ys = Array(y.unicodeScalars.map { $0.value })
                let less = xs.lexicographicallyPrecedes(ys), equal = xs == ys
                switch op { case "<": result = less; case ">": result = !less && !equal; case "<=": result = less || equal; default: result = !less }
            } else {
                throw fail("'\(op)' not supported between '\(a.typeName)' and '\(b.typeName)'", p)
            }
            return result
        }
    }
}

extension Value {
    /// The number of a numeric value (booleans count, as in Python).
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
}
