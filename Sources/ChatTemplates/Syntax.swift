/// The syntax tree the parser builds and the evaluator walks.

struct Expr {
    indirect enum Kind {
        case literal(Value)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(Expr, Expr)])
        case attribute(Expr, String)
        case item(Expr, Expr)
        case slice(Expr, Expr?, Expr?, Expr?)
        case call(Expr, [Expr], [(String, Expr)])
        case filter(Expr, String, [Expr], [(String, Expr)])
        case test(Expr, String, [Expr], negated: Bool)
        case negate(Expr)
        case plus(Expr)
        case not(Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case binary(String, Expr, Expr)
        case compare(Expr, [(String, Expr)])
        case conditional(Expr, condition: Expr, otherwise: Expr?)
    }
    let kind: Kind
    let position: SourcePosition
}

enum SetTarget {
    case name(String)
    case attribute(String, String)
}

indirect enum Node {
    case text(String)
    case output(Expr)
    case conditional([(Expr, [Node])], otherwise: [Node])
    case loop(targets: [String], iterable: Expr, filter: Expr?, body: [Node], otherwise: [Node], position: SourcePosition)
    case set(SetTarget, Expr, SourcePosition)
    case breakLoop(SourcePosition)
    case continueLoop(SourcePosition)
}
