using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>`minimind train --control` (issue 11): the single-process run is the node a seed runs, so `ctl`, /metrics and
/// the dashboard work during it; one tokens/s everywhere; the run ends with a JSON summary line (ports 47720-47729).</summary>
[Collection("cluster processes")]
public partial class TrainControlTests(ITestOutputHelper output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Train_with_control_serves_ctl_metrics_and_the_dashboard_with_one_tokens_per_second_and_ends_with_a_summary_line()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("train-control");
        const int control = 47721;
        var train = procs.Start("train", "train", "pretrain", "--config", "tiny", "--deterministic", "--threads", "1", "--run-dir", dir,
            "--max-steps", "2000", "--batch-size", "2", "--accumulation-steps", "2", "--max-seq-len", "32", "--save-interval", "1000",
            "--log-interval", "1", "--control", $"127.0.0.1:{control}");
        string[] host = ["--host", $"127.0.0.1:{control}"];
        await ClusterProcesses.WaitFor(() => train.Saw("step 4/") || train.Process.HasExited, Patience, "4 steps");
        Assert.False(train.Process.HasExited, string.Join("\n", train.Lines));
        Assert.Contains(train.Lines, l => l == $"  control  : http://127.0.0.1:{control} (minimind ctl --host 127.0.0.1:{control} …; metrics http://127.0.0.1:{control}/metrics; dashboard http://127.0.0.1:{control}/)");

        // the actor tree: the run's actors under the run manager singleton, as on a seed
        var tree = await procs.Ctl(Patience, [.. host, "actor", "hierarchy"]);
        Assert.Equal(0, tree.Code);
        foreach (var child in new[] { "data-loader", "worker-0", "checkpoint-writer", "gradient-aggregator" })
            Assert.Contains(tree.Lines, l => l.TrimStart().StartsWith("/user/run-manager/", StringComparison.Ordinal) && l.EndsWith("/coordinator/" + child, StringComparison.Ordinal));

        // pause, so that the numbers hold still, then compare: the last log line, ctl train status, /metrics
        var paused = await procs.Ctl(Patience, [.. host, "train", "pause"]);
        Assert.Equal(0, paused.Code);
        var pausedAt = long.Parse(Regex.Match(paused.Lines[0], @"paused at step (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        await ClusterProcesses.WaitFor(() => train.Saw($"step {pausedAt}/"), Patience, $"the log line of step {pausedAt}");
        var logLine = train.Lines.Last(l => l.StartsWith("step ", StringComparison.Ordinal));
        Assert.StartsWith($"step {pausedAt}/", logLine);
        var logTps = double.Parse(Regex.Match(logLine, @"\| (\d+) tok/s").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(logTps > 0, logLine);

        var status = await procs.Ctl(Patience, [.. host, "train", "status"]);
        Assert.Equal(0, status.Code);
        var statusLine = Assert.Single(status.Lines, l => l.StartsWith("run ", StringComparison.Ordinal));
        Assert.Contains($"| step {pausedAt}/", statusLine);
        Assert.Equal(logTps, double.Parse(Regex.Match(statusLine, @"\| (\d+) tok/s").Groups[1].Value, CultureInfo.InvariantCulture));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}"), Timeout = TimeSpan.FromSeconds(30) };
        var metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var sample = Regex.Match(metrics, @"(?m)^minimind_train_tokens_per_second\{run=""(pretrain-[^""]+)""[^}]*\} ([0-9.eE+-]+)$");
        Assert.True(sample.Success, metrics);
        Assert.Equal(logTps, Math.Round(double.Parse(sample.Groups[2].Value, CultureInfo.InvariantCulture)));
        Assert.Matches(@"(?m)^minimind_train_loss_tokens_per_second\{run=""pretrain-[^""]+""[^}]*\} [0-9.eE+-]+$", metrics);

        // the dashboard page and its data
        var page = await http.GetStringAsync("/", TestContext.Current.CancellationToken);
        Assert.Contains("{ key: \"tokensPerSecond\", title: \"tokens/s\"", page);   // the page's script is inline
        using (var recorded = JsonDocument.Parse(await http.GetStringAsync("/api/metrics/runs", TestContext.Current.CancellationToken)))
        {
            var run = Assert.Single(recorded.RootElement.GetProperty("runs").EnumerateArray());
            Assert.Equal("running", run.GetProperty("status").GetString());
            var id = run.GetProperty("run").GetString();
            // the recorder writes in batches off the step path: the first batch may still be on its way
            List<long> steps = [];
            await Poll.Until(async () =>
            {
                using var history = JsonDocument.Parse(await http.GetStringAsync($"/api/metrics/history?run={id}", TestContext.Current.CancellationToken));
                steps = [.. history.RootElement.GetProperty("points").GetProperty("step").EnumerateArray().Select(e => e.GetInt64())];
                return steps.Count > 0;
            }, TimeSpan.FromSeconds(30), "the first recorded steps");
            Assert.Equal(Enumerable.Range(1, steps.Count).Select(s => (long)s), steps);   // every step recorded so far, once
        }
        using (var runs = JsonDocument.Parse(await http.GetStringAsync("/api/runs", TestContext.Current.CancellationToken)))
        {
            var run = runs.RootElement.GetProperty("runs")[0];
            Assert.Equal(sample.Groups[1].Value, run.GetProperty("id").GetString());
            Assert.Equal(logTps, Math.Round(run.GetProperty("last").GetProperty("tokensPerSecond").GetDouble()));
        }

        // stop through ctl: the process drains, exits 0, and its last stdout line is the summary
        Assert.Equal(0, (await procs.Ctl(Patience, [.. host, "train", "stop"])).Code);
        await train.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);
        train.Process.WaitForExit();
        Assert.True(train.Process.ExitCode == 0, string.Join("\n", train.Lines));
        var stdout = train.Lines.Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        using var summary = JsonDocument.Parse(stdout[^1]);
        var s = summary.RootElement;
        Assert.Equal(sample.Groups[1].Value, s.GetProperty("run").GetString());
        Assert.Equal("pretrain", s.GetProperty("stage").GetString());
        Assert.Equal("stopped", s.GetProperty("outcome").GetString());
        Assert.True(s.GetProperty("steps").GetInt64() >= pausedAt);
        Assert.True(s.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.True(s.GetProperty("loss").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("output").ValueKind);
        Assert.True(s.GetProperty("elapsed_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("sha256").ValueKind);   // no output yet
    }

    [Fact]
    public async Task A_completed_run_and_an_already_completed_rerun_end_with_summary_lines_naming_the_output_and_its_hash()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("train-summary");
        string[] args = ["train", "pretrain", "--config", "tiny", "--deterministic", "--threads", "1", "--run-dir", dir, "--max-steps", "4",
            "--batch-size", "2", "--accumulation-steps", "2", "--max-seq-len", "32", "--log-interval", "1", "--control", "off"];
        JsonElement Summary(ChildProcess n)
        {
            n.Process.WaitForExit();
            Assert.True(n.Process.ExitCode == 0, string.Join("\n", n.Lines));
            Assert.Contains("  control  : off", n.Lines);
            return JsonDocument.Parse(n.Lines.Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).Last()).RootElement.Clone();
        }
        var first = procs.Start("train", args);
        await first.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);
        var done = Summary(first);
        var model = Path.Combine(dir, "pretrain_64.pth");
        Assert.Equal("completed", done.GetProperty("outcome").GetString());
        Assert.Equal(4, done.GetProperty("steps").GetInt64());
        Assert.Equal(model, done.GetProperty("output").GetString());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(model))), done.GetProperty("sha256").GetString(), ignoreCase: true);
        Assert.True(done.GetProperty("tokens_per_second").GetDouble() > 0);

        var again = procs.Start("train-again", args);
        await again.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(Patience, TestContext.Current.CancellationToken);
        var rerun = Summary(again);
        Assert.Equal("already_completed", rerun.GetProperty("outcome").GetString());
        Assert.Equal(4, rerun.GetProperty("steps").GetInt64());
        Assert.Equal(done.GetProperty("sha256").GetString(), rerun.GetProperty("sha256").GetString());
        Assert.NotEqual(done.GetProperty("run").GetString(), rerun.GetProperty("run").GetString());   // a new run of the run manager, same journaled run
    }
}
