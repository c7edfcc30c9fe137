using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>Exact resume for RL: `minimind train grpo --deterministic` SIGKILLed mid-run and started again ends with the
/// weights of an uninterrupted run, bit for bit. Nothing of a rollout is journaled or checkpointed: the journal holds
/// which steps were committed (each step's prompts follow from the step number), and a redone step's rollouts are
/// reproduced from their seeds (run seed, step, sample, generation) with the restored weights.</summary>
public class GrpoKillResumeTests(ITestOutputHelper output)
{
    const int Steps = 8;

    static string[] Args(string runDir) =>
        [RepoPaths.Cli, "train", "grpo", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", "8", "--batch-size", "2",
         "--num-generations", "3", "--max-gen-len", "12", "--save-interval", "3", "--log-interval", "1", "--learning-rate", "1e-4"];

    static string RunDir(string name)
    {
        var dir = TestRuns.TempRunDir(name);
        TestRuns.CopyTinyWeights(Path.Combine(dir, "full_sft_64.pth"));               // the SFT output GRPO starts from
        return dir;
    }

    static byte[] FinalCheckpoint(string runDir) =>
        File.ReadAllBytes(Path.Combine(runDir, "checkpoints", "grpo", Actors.Checkpoints.TrainingCheckpoint.FileName(Steps)));

    static int LastStep(ChildProcess c) =>
        c.Lines.Select(l => l.StartsWith("step ", StringComparison.Ordinal) ? int.Parse(l[5..l.IndexOf('/')], System.Globalization.CultureInfo.InvariantCulture) : 0)
            .DefaultIfEmpty(0).Max();

    async Task<(int Code, List<string> Lines)> RunToEnd(string runDir)
    {
        using var c = ChildProcess.Start("dotnet", Args(runDir), RepoPaths.Root);
        var code = await c.Exit(TimeSpan.FromMinutes(6), TestContext.Current.CancellationToken);
        return (code, [.. c.Lines]);
    }

    [Fact]
    public async Task A_grpo_run_killed_with_SIGKILL_resumes_to_bitwise_identical_weights()
    {
        Assert.True(File.Exists(RepoPaths.Cli), $"CLI not built: {RepoPaths.Cli}");
        var reference = RunDir("grpo-ref");
        var killed = RunDir("grpo-kill");
        var (code, lines) = await RunToEnd(reference);
        Assert.True(code == 0, string.Join("\n", lines));

        // paced (the numbers are unchanged) so that the kill lands mid-run however fast the machine is
        using (var c = ChildProcess.Start("dotnet", Args(killed), RepoPaths.Root, new Dictionary<string, string> { ["MINIMIND_TEST_COMPUTE_DELAY_MS"] = "150" }))
        {
            // after the step-3 checkpoint, in the middle of step 5's rollouts or later
            await Poll.Until(() => c.Process.HasExited || (LastStep(c) >= 4 && RunJournal.Checkpoints(killed) > 0), TimeSpan.FromMinutes(4), "step 4", intervalMs: 20);
            c.KillHard();
            output.WriteLine($"killed after step {LastStep(c)}");
            Assert.True(LastStep(c) < Steps, "the run ended before the kill");
        }
        (code, lines) = await RunToEnd(killed);
        foreach (var l in lines) output.WriteLine(l);
        Assert.Equal(0, code);
        Assert.Contains(lines, l => l.StartsWith("resumed from", StringComparison.Ordinal));

        Assert.Equal(FinalCheckpoint(reference), FinalCheckpoint(killed));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "grpo_64.pth")), File.ReadAllBytes(Path.Combine(killed, "grpo_64.pth")));
        Directory.Delete(reference, true);
        Directory.Delete(killed, true);
    }
}
