import Foundation

/// Training curves of one or several runs as one SVG (`treerpo report`): training reward,
/// held-out Pass@1 (when any run evaluated during training) and mean answer length, against
/// step (top row) and against sampled tokens (bottom row), one colour per run. A curve of more
/// than a few points is drawn twice: the raw values thin and pale, and a centred moving
/// average bold over them, because per-step values scatter more than the trend moves.
public enum RunReport {
    public struct Run: Sendable {
        public var name: String
        public var metrics: [StepMetrics]
        public init(name: String, metrics: [StepMetrics]) {
            self.name = name
            self.metrics = metrics
        }
    }

    /// Reads `runs/NAME/metrics.jsonl` for each run folder.
    public static func load(_ folders: [URL]) throws -> [Run] {
        try folders.map { folder in
            let file = folder.appendingPathComponent("metrics.jsonl")
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw ReportError("\(file.path): expected the run's metrics file, found none")
            }
            let metrics = try StepMetrics.read(file)
            guard !metrics.isEmpty else { throw ReportError("\(file.path): no complete metrics line") }
            return Run(name: folder.lastPathComponent, metrics: metrics)
        }
    }

    /// Share of groups kept at each depth over the whole run (nil when the run's metrics
    /// predate per-depth counts), and exact ties among all groups.
    public static func keptShareByDepth(_ metrics: [StepMetrics]) -> (kept: [Double], tied: Double)? {
        var groups: [Int] = [], kept: [Int] = [], tied = 0
        for m in metrics {
            guard let g = m.groupsPerDepth, let k = m.groupsKeptPerDepth else { continue }
            for (d, n) in g.enumerated() {
                if groups.count <= d { groups.append(0); kept.append(0) }
                groups[d] += n
                kept[d] += d < k.count ? k[d] : 0
            }
            tied += m.groupsTiedPerDepth?.reduce(0, +) ?? 0
        }
        let total = groups.reduce(0, +)
        guard total > 0 else { return nil }
        return (zip(kept, groups).map { $1 > 0 ? Double($0) / Double($1) : 0 }, Double(tied) / Double(total))
    }

    /// Per-line slip rate over the first and the last `window` steps that recorded lines.
    public static func slipRateFirstLast(_ metrics: [StepMetrics], window: Int = 10) -> (first: Double, last: Double)? {
        let counted = metrics.filter { ($0.stepLines ?? 0) > 0 }
        guard !counted.isEmpty else { return nil }
        func rate(_ ms: ArraySlice<StepMetrics>) -> Double {
            Double(ms.reduce(0) { $0 + ($1.stepLineSlips ?? 0) }) / Double(ms.reduce(0) { $0 + ($1.stepLines ?? 0) })
        }
        return (rate(counted.prefix(window)), rate(counted.suffix(window)))
    }

    struct Panel {
        var title: String
        var x: (StepMetrics) -> Double?
        var y: (StepMetrics) -> Double?
        var xLabel: String
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public static func svg(_ runs: [Run], title: String = "treerpo runs") -> String {
        let step: (StepMetrics) -> Double? = { Double($0.step + 1) }
        let tokens: (StepMetrics) -> Double? = { Double($0.tokensSampledTotal) }
        let reward: (StepMetrics) -> Double? = { $0.rewardMean }
        let pass1: (StepMetrics) -> Double? = { $0.eval?.pass1 }
        let length: (StepMetrics) -> Double? = { $0.meanResponseTokens }
        let slips: (StepMetrics) -> Double? = { m in m.stepLines.flatMap { $0 > 0 ? Double(m.stepLineSlips ?? 0) / Double($0) : nil } }
        // A panel no run has data for would be empty: held-out Pass@1 only when some run evaluated.
        let anyEval = runs.contains { $0.metrics.contains { $0.eval != nil } }
        let anySlips = runs.contains { $0.metrics.contains { slips($0) != nil } }
        let panels: [[Panel]] = [(step, "step"), (tokens, "sampled tokens")].map { x, xLabel in
            var row = [Panel(title: "training reward (leaf mean)", x: x, y: reward, xLabel: xLabel)]
            if anyEval { row.append(Panel(title: "held-out Pass@1", x: x, y: pass1, xLabel: xLabel)) }
            row.append(Panel(title: "mean answer tokens", x: x, y: length, xLabel: xLabel))
            if anySlips { row.append(Panel(title: "per-line slip rate (wrong computations)", x: x, y: slips, xLabel: xLabel)) }
            return row
        }
        let columns = Double(panels[0].count)
        let panelW = 380.0, panelH = 250.0, left = 60.0, top = 70.0, gapX = 30.0, gapY = 70.0
        let width = left + columns * panelW + (columns - 1) * gapX + 20, height = top + 2 * panelH + gapY + 60
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="24" font-size="16" font-weight="bold">\(escape(title))</text>

            """
        // Legend.
        var lx = left
        for (i, run) in runs.enumerated() {
            let c = colours[i % colours.count]
            out += "<line x1=\"\(lx)\" y1=\"44\" x2=\"\(lx + 24)\" y2=\"44\" stroke=\"\(c)\" stroke-width=\"3\"/>"
            out += "<text x=\"\(lx + 30)\" y=\"48\">\(escape(run.name))</text>\n"
            lx += 40 + Double(run.name.count) * 7
        }
        for (r, row) in panels.enumerated() {
            for (c, panel) in row.enumerated() {
                let x0 = left + Double(c) * (panelW + gapX), y0 = top + Double(r) * (panelH + gapY)
                out += plot(panel, runs: runs, x0: x0, y0: y0, w: panelW, h: panelH)
            }
        }
        return out + "</svg>\n"
    }

    static func plot(_ p: Panel, runs: [Run], x0: Double, y0: Double, w: Double, h: Double) -> String {
        let series = runs.map { run in run.metrics.compactMap { m -> (Double, Double)? in
            guard let x = p.x(m), let y = p.y(m), x.isFinite, y.isFinite else { return nil }
            return (x, y)
        } }
        let xs = series.flatMap { $0.map(\.0) }, ys = series.flatMap { $0.map(\.1) }
        var s = "<g>\n<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#999\"/>\n"
        s += "<text x=\"\(x0 + w / 2)\" y=\"\(y0 - 8)\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(p.title))</text>\n"
        s += "<text x=\"\(x0 + w / 2)\" y=\"\(y0 + h + 34)\" text-anchor=\"middle\">\(escape(p.xLabel))</text>\n"
        guard let xMin = xs.min(), let xMax = xs.max(), let yMinRaw = ys.min(), let yMaxRaw = ys.max() else {
            return s + "<text x=\"\(x0 + w / 2)\" y=\"\(y0 + h / 2)\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n</g>\n"
        }
        let xTicks = niceTicks(min(0, xMin), xMax), yTicks = niceTicks(min(0, yMinRaw), yMaxRaw)
        let xLo = xTicks.first!, xHi = max(xTicks.last!, xLo + 1e-9), yLo = yTicks.first!, yHi = max(yTicks.last!, yLo + 1e-9)
        func px(_ x: Double) -> Double { x0 + (x - xLo) / (xHi - xLo) * w }
        func py(_ y: Double) -> Double { y0 + h - (y - yLo) / (yHi - yLo) * h }
        for t in xTicks {
            s += "<line x1=\"\(px(t))\" y1=\"\(y0)\" x2=\"\(px(t))\" y2=\"\(y0 + h)\" stroke=\"#eee\"/>"
            s += "<text x=\"\(px(t))\" y=\"\(y0 + h + 16)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        for t in yTicks {
            s += "<line x1=\"\(x0)\" y1=\"\(py(t))\" x2=\"\(x0 + w)\" y2=\"\(py(t))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(x0 - 6)\" y=\"\(py(t) + 4)\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        for (i, points) in series.enumerated() where !points.isEmpty {
            let c = colours[i % colours.count]
            func path(_ ps: [(Double, Double)]) -> String {
                ps.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            }
            let window = smoothingWindow(points.count)
            if window > 1 {
                let smooth = zip(points.map(\.0), movingAverage(points.map(\.1), window: window)).map { ($0, $1) }
                s += "<polyline points=\"\(path(points))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1\" stroke-opacity=\"0.35\"/>\n"
                s += "<polyline points=\"\(path(smooth))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2.5\"/>\n"
            } else {
                s += "<polyline points=\"\(path(points))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
            }
            if points.count <= 40 {
                for (x, y) in points { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", px(x), py(y), c) }
                s += "\n"
            }
        }
        return s + "</g>\n"
    }

    /// Points averaged by the smoothed line: none below 5 points, then about a tenth of the
    /// curve, odd so the window is centred, at least 3.
    static func smoothingWindow(_ count: Int) -> Int {
        guard count >= 5 else { return 1 }
        let w = max(3, count / 10)
        return w % 2 == 1 ? w : w + 1
    }

    /// Centred moving average; near the ends the window shrinks to what exists on both sides
    /// equally, so the first and last points stay themselves rather than lagging.
    static func movingAverage(_ ys: [Double], window: Int) -> [Double] {
        let half = window / 2
        return ys.indices.map { i in
            let h = min(half, i, ys.count - 1 - i)
            let slice = ys[(i - h)...(i + h)]
            return slice.reduce(0, +) / Double(slice.count)
        }
    }

    /// About five round tick values covering [lo, hi].
    static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = hi > lo ? hi - lo : max(abs(hi), 1)
        let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let start = floor(lo / step) * step
        var ticks: [Double] = []
        var t = start
        ticks.append(t)
        while t < hi - step * 1e-9 || ticks.count < 2 {
            t += step
            ticks.append(t)
        }
        return ticks
    }

    static func label(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1_000_000 { return String(format: "%gM", v / 1_000_000) }
        if a >= 1_000 { return String(format: "%gk", v / 1_000) }
        if a == 0 || a >= 1 { return String(format: "%g", v) }
        return String(format: "%.2g", v)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

public struct ReportError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "report: \(message)" }
}
