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
        a()
        b()
        var ta: [Double] = [], tb: [Double] = []
        for _ in 0..<rounds {
            ta.append(time(a))
            tb.append(time(b))
        }
        return (median(ta), median(tb))
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
