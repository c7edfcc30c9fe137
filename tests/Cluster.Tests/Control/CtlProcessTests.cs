using System.Text.RegularExpressions;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>Every ctl verb against a real `minimind node seed` process with a tiny run, and the dashboard in headless
/// Chromium (ports 47600-47699).</summary>
[Collection("cluster processes")]
public partial class CtlProcessTests(ITestOutputHelper output)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    const string Token = "ops-test-token";

    [Fact]
    public async Task Every_ctl_verb_works_against_a_seed_during_a_run_and_the_dashboard_draws_curves_in_chromium()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("ctl-proc");
        const int control = 47611;
        var seed = procs.Start("seed", "node", "seed", "--port", "47610", "--control", $"127.0.0.1:{control}", "--control-token", Token,
            "--journal", $"sqlite:{Path.Combine(dir, "journal.db")}", "--failure-detector", "fast", "--threads", "1", "--device", "cpu");
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up:"), Patience, "the seed");
        string[] host = ["--host", $"127.0.0.1:{control}", "--token", Token];

        // without the token: 401 → exit 2 with a hint
        var denied = await procs.Ctl(Patience, "--host", $"127.0.0.1:{control}", "cluster", "show");
        Assert.Equal(2, denied.Code);
        Assert.Contains(denied.Lines, l => l.Contains("401", StringComparison.Ordinal) && l.Contains("--token", StringComparison.Ordinal));

        var start = await procs.Ctl(Patience, [.. host, "train", "start", "pretrain", "--max-steps", "2000", "--batch-size", "2", "--accumulation-steps", "2",
            "--max-seq-len", "32", "--run-dir", Path.Combine(dir, "run"), "--log-interval", "1", "--save-interval", "1000", "--deterministic",
            "--data", Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl"), "--tokenizer", Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json")]);
        Assert.Equal(0, start.Code);

        // cluster show: pbm's shape
        var show = await procs.Ctl(Patience, [.. host, "cluster", "show"]);
        Assert.Equal(0, show.Code);
        Assert.Matches(@"^akka\.tcp://minimind@127\.0\.0\.1:47610 \| \[coordinator,worker\] \| Up \|  \| \S+$", show.Lines[0]);
        Assert.Equal("Count: 1 nodes", show.Lines[1]);

        // wait for steps (run list)
        await Until(async () => StepOf(await procs.Ctl(Patience, [.. host, "run", "list"])) >= 3, "3 steps");

        var tree = await procs.Ctl(Patience, [.. host, "actor", "hierarchy"]);
        Assert.Equal(0, tree.Code);
        foreach (var child in new[] { "data-loader", "worker-0", "gradient-aggregator", "checkpoint-writer" })
            Assert.Contains(tree.Lines, l => l.TrimStart().StartsWith("/user/run-manager/", StringComparison.Ordinal) && l.EndsWith("/coordinator/" + child, StringComparison.Ordinal));

        var health = await procs.Ctl(Patience, [.. host, "actor", "health"]);
        Assert.Equal(0, health.Code);
        Assert.StartsWith("RUN ", health.Lines[0]);
        Assert.Matches(@"/coordinator/worker-0 +\| running +\| 0 +\| [0-9.]+ (s|min) ago +\| [0-9.]+/s +\| [0-9.]+ (KiB|MiB)$",
            Assert.Single(health.Lines, l => l.Contains("/worker-0", StringComparison.Ordinal)));

        // pause → checkpoint → list → resume
        var paused = await procs.Ctl(Patience, [.. host, "train", "pause"]);
        Assert.Equal(0, paused.Code);
        Assert.Matches(@"^run pretrain-\S+: paused at step \d+$", paused.Lines[0]);
        var saved = await procs.Ctl(Patience, [.. host, "checkpoint", "save"]);
        Assert.Equal(0, saved.Code);
        var m = SavedLine().Match(saved.Lines[0]);
        Assert.True(m.Success, saved.Lines[0]);
        var list = await procs.Ctl(Patience, [.. host, "checkpoint", "list"]);
        Assert.Contains(list.Lines, l => l.StartsWith(m.Groups[2].Value + " ", StringComparison.Ordinal) && l.Contains(m.Groups[1].Value, StringComparison.Ordinal)
                                         && !l.Contains("missing", StringComparison.Ordinal));
        var stepPaused = StepOf(await procs.Ctl(Patience, [.. host, "run", "list"]));
        await Task.Delay(1500);
        Assert.Equal(stepPaused, StepOf(await procs.Ctl(Patience, [.. host, "run", "list"])));
        Assert.Equal(0, (await procs.Ctl(Patience, [.. host, "train", "resume"])).Code);
        await Until(async () => StepOf(await procs.Ctl(Patience, [.. host, "run", "list"])) > stepPaused + 3, "steps after resume");

        var log = await procs.Ctl(Patience, [.. host, "log", "tail", "-n", "5", "--no-follow"]);
        Assert.Equal(0, log.Code);
        Assert.Equal(5, log.Lines.Count);
        Assert.All(log.Lines, l => Assert.Matches(@"^\d\d:\d\d:\d\d \[pretrain-\S+\] ", l));

        // the dashboard, in headless Chromium, during the run
        await Dashboard($"http://127.0.0.1:{control}/?token={Token}&live=off");   // live: DashboardRoutesTests (virtual time waits for a stream)

        // cluster tail streams until Ctrl+C, then exits 0
        var tail = procs.Start("tail", ["ctl", .. host, "cluster", "tail"]);
        await ClusterProcesses.WaitFor(() => tail.Saw("MemberUp akka.tcp://minimind@127.0.0.1:47610"), Patience, "cluster tail's MemberUp");
        tail.Signal("INT");
        Assert.Equal(0, await tail.Exit(Patience, TestContext.Current.CancellationToken));

        // the interactive shell, scripted through stdin
        var shell = Shell(["ctl", .. host], "cluster show\n\"run\" list\nnot-a-verb\nexit\ncluster show\n");
        Assert.Equal(0, shell.Code);
        Assert.Single(shell.Out, l => l == "Count: 1 nodes");    // the line after `exit` is not run
        Assert.Contains(shell.Out, l => l.StartsWith("RUN ", StringComparison.Ordinal));
        Assert.Contains("not-a-verb", shell.Err, StringComparison.Ordinal);

        // errors: a non-member → 404 → exit 2; then stop the run
        var leave = await procs.Ctl(Patience, [.. host, "cluster", "leave", "akka.tcp://minimind@127.0.0.1:1"]);
        Assert.Equal(2, leave.Code);
        Assert.Equal(0, (await procs.Ctl(Patience, [.. host, "cluster", "down-unreachable"])).Code);
        Assert.Equal(0, (await procs.Ctl(Patience, [.. host, "train", "stop"])).Code);
        await Until(async () => (await procs.Ctl(Patience, [.. host, "run", "list"])).Lines.Any(l => l.Contains("| stopped ", StringComparison.Ordinal)), "stopped");
    }

    [Fact]
    public async Task A_seed_refuses_a_control_endpoint_off_loopback_without_a_token()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("ctl-bind");
        var seed = procs.Start("seed", "node", "seed", "--port", "47620", "--control", "0.0.0.0:47621", "--journal", $"sqlite:{Path.Combine(dir, "j.db")}");
        Assert.Equal(2, await seed.Exit(Patience, TestContext.Current.CancellationToken));
        Assert.Contains(seed.Lines, l => l.Contains("--control-token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_worker_started_with_control_serves_the_cluster_view_its_actor_tree_and_reaches_the_coordinator()
    {
        using var procs = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("ctl-worker");
        var seed = procs.Seed(47625, 47626, Path.Combine(dir, "journal.db"), device: null);
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up:"), Patience, "the seed");
        var worker = procs.Start("worker", "node", "worker", "--seed", "127.0.0.1:47625", "--device", "cpu", "--port", "47627",
            "--control", "127.0.0.1:47628", "--failure-detector", "fast", "--threads", "1");
        await ClusterProcesses.WaitFor(() => worker.Saw("worker up:") && worker.Saw("control http://127.0.0.1:47628"), Patience, "the worker's control endpoint");
        string[] host = ["--host", "127.0.0.1:47628"];

        await Until(async () => (await procs.Ctl(Patience, [.. host, "cluster", "show"])).Lines.Count(l => l.Contains(" | Up | ", StringComparison.Ordinal)) == 2, "both members Up in the worker's view");
        var show = await procs.Ctl(Patience, [.. host, "cluster", "show"]);
        Assert.Contains(show.Lines, l => l.StartsWith("akka.tcp://minimind@127.0.0.1:47625 | [coordinator] | Up", StringComparison.Ordinal));
        Assert.Contains(show.Lines, l => l.StartsWith("akka.tcp://minimind@127.0.0.1:47627 | [worker] | Up", StringComparison.Ordinal));

        var tree = await procs.Ctl(Patience, [.. host, "actor", "hierarchy"]);
        Assert.Equal(0, tree.Code);
        Assert.Contains(tree.Lines, l => l.Contains("/user/worker", StringComparison.Ordinal));

        // train verbs reach the coordinator singleton on the seed through the worker's proxy
        var start = await procs.Ctl(Patience, [.. host, "train", "start", "pretrain", "--max-steps", "2", "--batch-size", "2", "--accumulation-steps", "1",
            "--max-seq-len", "32", "--run-dir", Path.Combine(dir, "run"), "--save-interval", "1000", "--deterministic",
            "--data", Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl"), "--tokenizer", Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json")]);
        Assert.Equal(0, start.Code);
        var status = await procs.Ctl(Patience, [.. host, "train", "status", "--wait"]);
        Assert.Equal(0, status.Code);
        Assert.True(File.Exists(Path.Combine(dir, "run", "pretrain_64.pth")), "the run's output, written by the seed");
    }

    [GeneratedRegex(@"^run pretrain-\S+: checkpoint (\S+) at step (\d+)$")]
    private static partial Regex SavedLine();

    static long StepOf((int Code, List<string> Lines) runList)
    {
        var row = runList.Lines.FirstOrDefault(l => l.StartsWith("pretrain-", StringComparison.Ordinal));
        if (row is null) return -1;
        var step = row.Split('|')[3].Trim();
        return long.Parse(step[..step.IndexOf('/', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
    }

    static Task Until(Func<Task<bool>> condition, string what) => Poll.Until(condition, Patience, what, intervalMs: 300);

    static (int Code, List<string> Out, string Err) Shell(string[] args, string input)
    {
        var r = ChildProcess.Run("dotnet", [ClusterProcesses.Cli, .. args], Patience, RepoPaths.Root, input);
        return (r.ExitCode, r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList(), r.Error);
    }

    /// <summary>Loads the dashboard in headless Chromium: the DOM after a few seconds must show each curve drawn with
    /// points (the page records them per canvas), and a screenshot is kept in the test output directory.</summary>
    async Task Dashboard(string url)
    {
        var outDir = Path.Combine(AppContext.BaseDirectory, "test-output");
        Directory.CreateDirectory(outDir);
        var dom = DashboardBrowserTests.Loaded(url);
        var canvases = CanvasTag().Matches(dom).Select(c => (Metric: c.Groups[1].Value, Points: int.Parse(c.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        output.WriteLine("dashboard canvases: " + string.Join(", ", canvases.Select(c => $"{c.Metric}={c.Points}")));
        Assert.Equal(["loss", "lr", "gradNorm", "tokensPerSecond", "stepSeconds", "evalLoss", .. DashboardBrowserTests.RlCharts], canvases.Select(c => c.Metric).ToArray());
        Assert.All(canvases.Take(5), c => Assert.True(c.Points >= 3, $"{c.Metric}: {c.Points} points drawn"));
        Assert.All(canvases.Skip(5), c => Assert.Equal(0, c.Points));   // the eval and RL charts stay hidden and empty: no --eval-data, a pretrain run
        Assert.Matches(@"<td>\[coordinator,worker\]</td>", dom);
        Assert.Contains("class=\"status-running\">running</td>", dom, StringComparison.Ordinal);
        var png = Path.Combine(outDir, "dashboard.png");
        File.Delete(png);
        Chromium.Run(url, $"--screenshot={png}", Patience);
        Assert.True(File.Exists(png) && new FileInfo(png).Length > 10_000, $"screenshot {png}");
        output.WriteLine($"dashboard screenshot: {png}");
    }

    [GeneratedRegex(@"<canvas data-metric=""(\w+)"" data-points=""(\d+)""")]
    private static partial Regex CanvasTag();
}
