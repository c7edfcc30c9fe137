using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>A run started with `ctl train start` on a seed that fails on its input ends `ctl train status --wait` with
/// train's exit code for that failure (3, naming file and line), not a bare 1 (ports 47820-47829).</summary>
[Collection("cluster processes")]
public class CtlFailureExitTests(ITestOutputHelper output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_seed_run_that_fails_on_a_malformed_line_makes_status_wait_exit_3_naming_file_and_line()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("ctl-fail");
        var data = Path.Combine(dir, "bad.jsonl");
        var lines = File.ReadLines(Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl")).Take(40).ToList();
        lines.Insert(1, "{\"text\": \"unterminated");
        File.WriteAllLines(data, lines);
        const int control = 47821;
        var seed = procs.Start("seed", "node", "seed", "--port", "47820", "--control", $"127.0.0.1:{control}",
            "--journal", $"sqlite:{Path.Combine(dir, "journal.db")}", "--threads", "1", "--device", "cpu");
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up:"), Patience, "the seed");
        string[] host = ["--host", $"127.0.0.1:{control}"];

        var start = await procs.Ctl(Patience, [.. host, "train", "start", "pretrain", "--max-steps", "2", "--batch-size", "2", "--max-seq-len", "32",
            "--run-dir", Path.Combine(dir, "run"), "--data", data, "--tokenizer", Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json")]);
        Assert.Equal(0, start.Code);

        var status = await procs.Ctl(Patience, [.. host, "train", "status", "--wait"]);
        Assert.Equal(3, status.Code);
        Assert.Contains(status.Lines, l => l.Contains("failed", StringComparison.Ordinal) && l.Contains($"{data}:2", StringComparison.Ordinal));
    }
}
