import ArgumentParser
import Foundation
import ModelFiles
import TreeRPO
import ModelIO
import Transformer

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw training curves of one or several runs side by side as an SVG.",
        discussion: """
            Panels: training reward, held-out Pass@1 (steps that evaluated; finetune --eval-every; \
            left out when no run evaluated), mean answer length and the per-line slip rate \
            (share of `Step k: a op b = c` lines with a wrong result; left out when no run wrote \
            such lines), against step and against sampled tokens; curves of 5 points or more get \
            a smoothed line over the raw one. The table adds the share of sibling groups kept at \
            each depth, exact ties, and the slip rate over the first and last 10 steps.
            """
    )

    @Argument(help: "Runs: names in the workspace's runs/ or paths to run folders.")
    var runs: [String]

    @Option(help: "SVG file to write (temporary name, then renamed).")
    var out: String

    @Option(help: "Workspace whose runs/ holds the named runs.")
    var workspace = Workspace.defaultFolderName

    @Option(help: "Title at the top of the figure.")
    var title = "treerpo runs"

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("name at least one run") }
        guard out.hasSuffix(".svg") else { throw ValidationError("--out: expected a .svg file name, found \(out)") }
    }

    func run() throws {
        let ws = Workspace(root: URL(fileURLWithPath: workspace))
        let folders = runs.map { name -> URL in
            let path = URL(fileURLWithPath: name)
            return FileManager.default.fileExists(atPath: path.appendingPathComponent("metrics.jsonl").path) ? path : ws.run(name)
        }
        let loaded = try RunReport.load(folders)
        try AtomicFile.write(Data(RunReport.svg(loaded, title: title).utf8), to: URL(fileURLWithPath: out))
        var rows: [[String]] = []
        for (r, folder) in zip(loaded, folders) {
            let last = r.metrics.last!
            // The method as the run's saved settings name it (plain or filtered GRPO, TreeRPO).
            let config = try? JSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: folder.appendingPathComponent("config.json")))
            let evals = r.metrics.compactMap(\.eval)
            rows.append([r.name, config?.methodName ?? "?", "\(last.step + 1)", "\(last.tokensSampledTotal)", String(format: "%.3f", last.rewardMean),
                         evals.last.map { String(format: "%.3f", $0.pass1) } ?? "-",
                         String(format: "%.1f", last.meanResponseTokens),
                         RunReport.keptShareByDepth(r.metrics).map { s in s.kept.map { String(format: "%.0f%%", 100 * $0) }.joined(separator: " / ") } ?? "-",
                         RunReport.keptShareByDepth(r.metrics).map { String(format: "%.0f%%", 100 * $0.tied) } ?? "-",
                         RunReport.slipRateFirstLast(r.metrics).map { String(format: "%.1f%% -> %.1f%%", 100 * $0.first, 100 * $0.last) } ?? "-"])
        }
        print(Table.render(header: ["run", "method", "steps", "sampled tokens", "last reward", "last held-out pass@1", "last answer tokens",
                                    "groups kept by depth", "ties", "line slips (first -> last 10 steps)"], rows: rows))
        print("wrote \(out)")
    }
}
