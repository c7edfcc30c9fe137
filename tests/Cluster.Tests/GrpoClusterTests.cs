using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>GRPO on the cluster with real processes: a seed that computes nothing and two worker processes that roll
/// out the micro-batches (4 per step). Worker-1 is SIGKILLed while the run is computing; its micro-batches are re-issued
/// to worker-2, whose rollouts of them are the same bits (seeded per step, sample, generation), so the run ends with
/// the weights of a one-process run, bit for bit.</summary>
[Collection("cluster processes")]
public class GrpoClusterTests(ITestOutputHelper output)
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    const int Steps = 6;

    static string[] TrainArgs(string runDir) =>
        ["grpo", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", ClusterProcesses.Str(Steps), "--batch-size", "1",
         "--accumulation-steps", "4", "--num-generations", "3", "--max-gen-len", "12", "--learning-rate", "1e-4", "--save-interval", "2", "--log-interval", "1"];

    static string RunDir(string parent)
    {
        Directory.CreateDirectory(parent);
        TestRuns.CopyTinyWeights(Path.Combine(parent, "full_sft_64.pth"));
        return parent;
    }

    static byte[] Final(string runDir) =>
        File.ReadAllBytes(Path.Combine(runDir, "checkpoints", "grpo", Actors.Checkpoints.TrainingCheckpoint.FileName(Steps)));

    [Fact]
    public async Task Rollouts_on_two_worker_processes_with_one_SIGKILLed_end_bitwise_equal_to_one_process()
    {
        Assert.True(File.Exists(ClusterProcesses.Cli), $"CLI not built: {ClusterProcesses.Cli}");
        var dir = TestRuns.TempRunDir("grpo-cluster");
        var reference = RunDir(Path.Combine(dir, "reference"));
        using (var one = ChildProcess.Start("dotnet", [ClusterProcesses.Cli, "train", .. TrainArgs(reference)], RepoPaths.Root))
            Assert.Equal(0, await one.Exit(4 * Minute, TestContext.Current.CancellationToken));

        var run = RunDir(Path.Combine(dir, "run"));
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47480, 47481, Path.Combine(dir, "journal.db"), device: null);
        var w1 = p.Worker("worker-1", 47480, 47482, computeDelayMs: 300);
        var w2 = p.Worker("worker-2", 47480, 47483, computeDelayMs: 300);
        await ClusterProcesses.WaitFor(() => (seed.Saw("seed up") && w1.Saw("worker up") && w2.Saw("worker up")) || seed.Process.HasExited, Minute, "seed and workers");
        // both workers members before the run starts: a worker that started before the seed was up is gated for a few
        // seconds, and the short run could end before it joins (then nothing of it is lost and re-issued)
        await Poll.Until(async () => (await p.Ctl(Minute, "--host", "127.0.0.1:47481", "cluster", "show")).Lines.Count(l => l.Contains(" | Up | ", StringComparison.Ordinal)) == 3,
            2 * Minute, "seed and both workers Up");

        var (code, lines) = await p.Ctl(Minute, ["--host", "127.0.0.1:47481", "train", "start", .. TrainArgs(run)]);
        Assert.True(code == 0, string.Join("\n", lines));
        var wait = p.Ctl(6 * Minute, "--host", "127.0.0.1:47481", "train", "status", "--wait");
        await ClusterProcesses.WaitForEvent(47481, "worker 127.0.0.1:47483 ready", 2 * Minute);
        await ClusterProcesses.WaitForStep(47481, 2, 3 * Minute);
        w1.KillHard();                                                   // mid-step: its micro-batches are rolling out
        output.WriteLine($"killed worker-1 after step {await ClusterProcesses.Step(47481)}");
        (code, lines) = await wait;
        Assert.True(code == 0, string.Join("\n", lines));
        Assert.Contains(lines, l => l.Contains($"| completed | step {Steps}/{Steps}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("worker 127.0.0.1:47482 unreachable", StringComparison.Ordinal) || l.Contains("worker 127.0.0.1:47482 removed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("reassigned micro-batches", StringComparison.Ordinal));   // the lost rollouts, re-issued
        foreach (var l in lines) output.WriteLine(l);
        var assigned = Assert.Single(lines, l => l.Contains("micro-batches assigned: ", StringComparison.Ordinal));
        Assert.Contains("127.0.0.1:47482", assigned);                    // both workers rolled out
        Assert.Contains("127.0.0.1:47483", assigned);

        Assert.Equal(Final(reference), Final(run));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "grpo_64.pth")), File.ReadAllBytes(Path.Combine(run, "grpo_64.pth")));
        Directory.Delete(dir, true);
    }
}
