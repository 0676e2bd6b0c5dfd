import Foundation
import Dispatch

/// Timing helpers for benchmarks (never for tests): medians of repeated runs, with two
/// contenders alternated run by run so that machine noise hits both alike.
public enum Stopwatch {
    /// Seconds taken by one call of `body`.
    public static func time(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Median seconds of `a` and of `b` over `rounds` alternating runs (a, b, a, b, ...),
    /// after one warm-up run of each.
    public static func alternating(rounds: Int, _ a: () -> Void, _ b: () -> Void) -> (a: Double, b: Double) {
        withoutActuallyEscaping(a) { a in
            withoutActuallyEscaping(b) { b in
                let t = alternating(rounds: rounds, [a, b])
                return (t[0], t[1])
            }
        }
    }

    /// Median seconds of each contender over `rounds` rounds, each round running every contender
    /// once in order, after one warm-up run of each.
    public static func alternating(rounds: Int, _ contenders: [() -> Void]) -> [Double] {
        for body in contenders { body() }
        var times = [[Double]](repeating: [], count: contenders.count)
        for _ in 0..<rounds {
            for (i, body) in contenders.enumerated() { times[i].append(time(body)) }
        }
        return times.map(median)
    }

    /// Median seconds of `rounds` runs after one warm-up run.
    public static func median(rounds: Int, _ body: () -> Void) -> Double {
        body()
        return median((0..<rounds).map { _ in time(body) })
    }

    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
