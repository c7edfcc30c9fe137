using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>Reference: the same tiny deterministic run in one process (`minimind train` path, local accumulation),
/// computed once for the class.</summary>
public sealed class SingleProcessReference : IAsyncLifetime
{
    public const int Steps = 8;
    public const int Accumulation = 4;
    public string RunDir { get; } = TestRuns.TempRunDir("cluster-ref");

    public static string[] TrainArgs(string runDir) =>
        ["pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", ClusterProcesses.Str(Steps), "--batch-size", "2",
         "--max-seq-len", "32", "--accumulation-steps", ClusterProcesses.Str(Accumulation), "--save-interval", "2", "--log-interval", "1"];

    public byte[] Final => TestRuns.FinalCheckpoint(RunDir, Steps);
    public byte[] Output => File.ReadAllBytes(Path.Combine(RunDir, "pretrain_64.pth"));

    public async ValueTask InitializeAsync()
    {
        var r = await TestRuns.RunAsync(TestRuns.Tiny(RunDir, Steps, 2) with { AccumulationSteps = Accumulation });
        Assert.Equal(Actors.TrainingCoordinator.Outcome.Completed, r.Finished.Outcome);
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(RunDir, true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Issue 5 with real processes on loopback: a seed node, worker nodes, `minimind ctl`. Every run must end with
/// the weights of the single-process run, bit for bit.</summary>
[Collection("cluster processes")]
public class ClusterNodeTests(SingleProcessReference reference, ITestOutputHelper output) : IClassFixture<SingleProcessReference>
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Seed_alone_with_a_local_worker_trains_through_ctl_and_matches_the_single_process_run()
    {
        Assert.True(File.Exists(ClusterProcesses.Cli), $"CLI not built: {ClusterProcesses.Cli}");
        var dir = TestRuns.TempRunDir("cluster-seed");
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47410, 47411, Path.Combine(dir, "journal.db"));
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up") || seed.Process.HasExited, Minute, "the seed");

        var (code, lines) = await p.Ctl(Minute, ["--host", "127.0.0.1:47411", "train", "start", .. SingleProcessReference.TrainArgs(Path.Combine(dir, "run"))]);
        Assert.Equal(0, code);
        var runId = Assert.Single(lines);
        Assert.StartsWith("pretrain-", runId, StringComparison.Ordinal);

        (code, lines) = await p.Ctl(2 * Minute, "--host", "127.0.0.1:47411", "train", "status", "--wait", "--run", runId);
        Assert.Equal(0, code);
        Assert.Contains(lines, l => l.Contains("| completed | step 8/8", StringComparison.Ordinal));

        // A second start while nothing runs is accepted; status without --run shows the newest run.
        Assert.Equal(reference.Final, TestRuns.FinalCheckpoint(Path.Combine(dir, "run"), SingleProcessReference.Steps));
        Assert.Equal(reference.Output, File.ReadAllBytes(Path.Combine(dir, "run", "pretrain_64.pth")));

        // Bad flags come back as a 400 naming the flag.
        (code, lines) = await p.Ctl(Minute, "--host", "127.0.0.1:47411", "train", "start", "pretrain", "--batch-size", "0");
        Assert.Equal(2, code);
        Assert.Contains(lines, l => l.Contains("--batch-size must be", StringComparison.Ordinal));
        Directory.Delete(dir, true);
    }
}
