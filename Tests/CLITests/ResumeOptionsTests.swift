import Testing
@testable import treerpo

@Suite struct ResumeOptionsTests {
    @Test func trainingSettingsGivenWithResumeAreNamed() {
        let args = ["--run", "r1", "--resume", "--lr=1e-4", "--steps", "80", "--threads", "1", "--lr", "2e-5", "--json"]
        #expect(Finetune.ignoredOnResume(args) == ["--lr", "--steps"])
    }

    @Test func aPlainResumeIgnoresNothing() {
        #expect(Finetune.ignoredOnResume(["--workspace", "ws", "--run", "r1", "--resume", "--max-memory", "2GB"]).isEmpty)
    }
}
