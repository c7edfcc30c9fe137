using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>Issue 14's "done when" for the dashboard, with real processes (ports 47800-47809): a `minimind train` SIGKILLed
/// mid-run and resumed, a second run in the same journal, then the dashboard of a seed on that journal in headless
/// Chromium: every step of both runs exactly once with the values `minimind run metrics` exports, the two runs compared,
/// the smoothing applied, the held-out evaluations of the first run (--eval-data) as a curve of their own with the exported
/// values; a screenshot is kept. A GRPO run's RL charts with every step and the exported values (hidden for pretrain runs).
/// And an alert (a forced loss spike) as one log line and a /metrics gauge.</summary>
[Collection("cluster processes")]
public partial class DashboardBrowserTests(ITestOutputHelper output)
{
    static readonly string Cli = RepoPaths.Cli;
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);
    const int StepsA = 120, StepsB = 60, SaveInterval = 30;
    const double Smoothing = 0.8;

    static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    static string[] Train(string runDir, long steps, params string[] more) =>
        ["--default-signal=INT", "dotnet", Cli, "train", "pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", Str(steps),
            "--batch-size", "4", "--max-seq-len", "128", "--accumulation-steps", "2", "--save-interval", Str(SaveInterval), "--log-interval", "20",
            "--control", "off", .. more];

    static async Task RunToEnd(string[] args)
    {
        using var c = ChildProcess.Start("env", args, RepoPaths.Root);
        Assert.Equal(0, await c.Exit(Patience, TestContext.Current.CancellationToken));
    }

    /// <summary>`minimind run metrics` as (step → csv fields).</summary>
    static List<string[]> Export(params string[] args)
    {
        var r = ChildProcess.Run("dotnet", [Cli, "run", "metrics", .. args], TimeSpan.FromMinutes(2), RepoPaths.Root);
        Assert.True(r.ExitCode == 0, r.Error);
        return [.. r.Out.TrimEnd().Split('\n').Skip(1).Select(l => l.TrimEnd('\r').Split(','))];
    }

    static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    [GeneratedRegex("<pre id=\"probe\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex Probe();

    [GeneratedRegex("<canvas data-metric=\"(\\w+)\" data-points=\"(\\d+)\" data-runs=\"(\\d+)\"")]
    private static partial Regex CanvasTag();

    /// <summary>The RL (GRPO) charts, after the eval chart: hidden unless a selected run has RL values.</summary>
    internal static readonly string[] RlCharts = ["rewardMean", "rewardStd", "kl", "completionLength", "clipFraction", "rolloutSeconds", "rewardSeconds"];

    [GeneratedRegex("<div class=\"chart\" hidden=\"\">(?:(?!</canvas>).)*<canvas data-metric=\"(?:rewardMean|rewardStd|kl|completionLength|clipFraction|rolloutSeconds|rewardSeconds)\"", RegexOptions.Singleline)]
    private static partial Regex HiddenRlChart();

    [Fact]
    public async Task After_a_SIGKILL_and_resume_the_dashboard_in_chromium_shows_every_step_once_two_runs_compared_and_smoothed()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        var a = TestRuns.TempRunDir("dash-a");
        var b = TestRuns.TempRunDir("dash-b");
        var journal = Path.Combine(a, "journal.db");
        var heldOut = Path.Combine(b, "heldout.jsonl");
        File.WriteAllLines(heldOut, File.ReadLines(Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl")).TakeLast(16));
        string[] evaluating = ["--eval-data", heldOut, "--eval-interval", Str(SaveInterval), "--eval-batches", "2"];

        using (var c = ChildProcess.Start("env", Train(a, StepsA, evaluating), RepoPaths.Root))
        {
            await Poll.Until(() => c.Process.HasExited || (RunJournal.Checkpoints(a) is > 0 and var k && RunJournal.NewestRecordedStep(a) > k * SaveInterval + 3),
                Patience, "history past a checkpoint", intervalMs: 20);
            c.KillHard();
            var atKill = await RunJournal.AfterKill(a);
            output.WriteLine($"killed with {atKill.Checkpoints} checkpoint(s) and steps up to {atKill.NewestStep} recorded");
            Assert.True(atKill.NewestStep < StepsA, "the run ended before the kill");
        }
        await RunToEnd(Train(a, StepsA, evaluating));
        await RunToEnd(Train(b, StepsB, "--journal", "sqlite:" + journal, "--learning-rate", "0.001"));
        var rowsA = Export("--run-dir", a);
        var rowsB = Export("--run-dir", b, "--journal", "sqlite:" + journal);
        Assert.Equal(Enumerable.Range(1, StepsA).Select(s => Str(s)), rowsA.Select(r => r[1]));
        Assert.Equal(Enumerable.Range(1, StepsB).Select(s => Str(s)), rowsB.Select(r => r[1]));
        var evalsA = rowsA.Where(r => r[13].Length > 0).ToList();
        Assert.Equal(Enumerable.Range(1, StepsA / SaveInterval).Select(k => Str(k * SaveInterval)), evalsA.Select(r => r[1]));   // once each, after the kill too
        Assert.All(rowsB, r => Assert.Equal("", r[13]));

        // a seed on the same journal serves the dashboard of both runs
        using var procs = new ClusterProcesses(output);
        const int control = 47801;
        var seed = procs.Start("seed", "node", "seed", "--port", "47800", "--control", $"127.0.0.1:{control}", "--journal", "sqlite:" + journal, "--threads", "1");
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up:"), Patience, "the seed");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}") };
        var runs = JsonDocument.Parse(await http.GetStringAsync("/api/metrics/runs", TestContext.Current.CancellationToken)).RootElement.GetProperty("runs")
            .EnumerateArray().Select(r => (Id: r.GetProperty("run").GetString()!, Dir: r.GetProperty("runDir").GetString()!, Status: r.GetProperty("status").GetString())).ToList();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.Equal("ended", r.Status));
        var (idA, idB) = (runs.Single(r => r.Dir == Path.GetFullPath(a) || r.Dir == a).Id, runs.Single(r => r.Dir == Path.GetFullPath(b) || r.Dir == b).Id);

        var url = $"http://127.0.0.1:{control}/?runs={idA},{idB}&smooth={Smoothing.ToString(CultureInfo.InvariantCulture)}";
        var dom = Loaded(url + "&probe=1");
        var probe = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(Probe().Match(dom).Groups[1].Value)).RootElement;
        Assert.Equal(Smoothing, probe.GetProperty("smooth").GetDouble());
        foreach (var (id, rows) in new[] { (idA, rowsA), (idB, rowsB) })
        {
            var run = probe.GetProperty("runs").GetProperty(id);
            long[] Longs(string name) => [.. run.GetProperty(name).EnumerateArray().Select(e => e.GetInt64())];
            double[] Doubles(string name) => [.. run.GetProperty(name).EnumerateArray().Select(e => e.GetDouble())];
            Assert.Equal(rows.Select(r => long.Parse(r[1], CultureInfo.InvariantCulture)), Longs("steps"));   // every step, once, in order
            Assert.All(Longs("count"), n => Assert.Equal(1, n));                                               // per-step resolution
            Assert.Equal(rows.Select(r => D(r[3])), Doubles("loss"));                                           // the exported values, exactly
            Assert.Equal(rows.Select(r => D(r[4])), Doubles("lr"));
            Assert.Equal(rows.Select(r => D(r[5])), Doubles("gradNorm"));
            double acc = 0;
            var ema = rows.Select((r, i) => (acc = Smoothing * acc + (1 - Smoothing) * D(r[3])) / (1 - Math.Pow(Smoothing, i + 1))).ToArray();
            var smoothed = Doubles("smoothedLoss");
            for (var i = 0; i < ema.Length; i++) Assert.Equal(ema[i], smoothed[i], 9);
            Assert.NotEqual(Doubles("loss"), smoothed);
            var eval = run.GetProperty("eval");
            var evals = rows.Where(r => r[13].Length > 0).ToList();
            Assert.Equal(evals.Select(r => long.Parse(r[1], CultureInfo.InvariantCulture)), eval.GetProperty("steps").EnumerateArray().Select(e => e.GetInt64()));
            Assert.Equal(evals.Select(r => D(r[13])), eval.GetProperty("loss").EnumerateArray().Select(e => e.GetDouble()));
            Assert.Equal(evals.Select(r => D(r[14])), eval.GetProperty("perplexity").EnumerateArray().Select(e => e.GetDouble()));
        }
        var canvases = CanvasTag().Matches(dom).Select(m => (Metric: m.Groups[1].Value, Points: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Runs: int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture))).ToList();
        output.WriteLine("canvases: " + string.Join(", ", canvases.Select(c => $"{c.Metric}={c.Points}/{c.Runs}")));
        Assert.Equal(["loss", "lr", "gradNorm", "tokensPerSecond", "stepSeconds", "evalLoss", .. RlCharts], canvases.Select(c => c.Metric));
        Assert.All(canvases.Take(5), c => Assert.Equal((StepsA + StepsB, 2), (c.Points, c.Runs)));        // both runs, every point drawn
        Assert.Equal((evalsA.Count, 1), (canvases[5].Points, canvases[5].Runs));                          // the evaluations: run A's only
        Assert.All(canvases.Skip(6), c => Assert.Equal((0, 0), (c.Points, c.Runs)));                       // pretrain runs: no RL chart
        Assert.Equal(RlCharts.Length, HiddenRlChart().Matches(dom).Count);
        Assert.All(new[] { idA, idB }, id => Assert.False(probe.GetProperty("runs").GetProperty(id).TryGetProperty("rl", out _)));
        Assert.Contains("<td>[coordinator]</td>", dom, StringComparison.Ordinal);                           // the system panel

        // a whole-run curve of 40 points, zoomed into steps 31-60: the zoom is read again, at per-step resolution
        var zoomDom = Loaded($"http://127.0.0.1:{control}/?runs={idA}&max=40&range=31-60&probe=1");
        var zoomRun = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(Probe().Match(zoomDom).Groups[1].Value)).RootElement.GetProperty("runs").GetProperty(idA);
        Assert.Equal(40, zoomRun.GetProperty("steps").GetArrayLength());
        Assert.All(zoomRun.GetProperty("count").EnumerateArray(), c => Assert.Equal(3, c.GetInt64()));        // 120 steps in 40 buckets
        var zoomed = zoomRun.GetProperty("zoomed");
        Assert.Equal(Enumerable.Range(31, 30).Select(s => (long)s), zoomed.GetProperty("steps").EnumerateArray().Select(e => e.GetInt64()));
        Assert.All(zoomed.GetProperty("count").EnumerateArray(), c => Assert.Equal(1, c.GetInt64()));
        Assert.Equal(rowsA.Skip(30).Take(30).Select(r => D(r[3])), zoomed.GetProperty("loss").EnumerateArray().Select(e => e.GetDouble()));

        var png = Path.Combine(Artifacts(), "dashboard-kill-resume.png");
        File.Delete(png);
        Chromium.Run(url, $"--screenshot={png}", Patience);
        Assert.True(File.Exists(png) && new FileInfo(png).Length > 20_000, $"screenshot {png}");
        output.WriteLine($"dashboard screenshot: {png}");
        Console.WriteLine($"dashboard screenshot: {png}");
        Directory.Delete(a, true);
        Directory.Delete(b, true);
    }

    [Fact]
    public async Task A_grpo_run_shows_its_rl_charts_with_every_step_and_the_exported_values()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        const int steps = 4;
        var dir = TestRuns.TempRunDir("dash-grpo");
        TestRuns.CopyTinyWeights(Path.Combine(dir, "full_sft_64.pth"));   // the SFT output GRPO starts from
        await RunToEnd(["dotnet", Cli, "train", "grpo", "--deterministic", "--threads", "1", "--run-dir", dir, "--max-steps", Str(steps),
            "--batch-size", "2", "--num-generations", "3", "--max-gen-len", "12", "--log-interval", "1", "--control", "off"]);
        var rows = Export("--run-dir", dir);
        Assert.Equal(Enumerable.Range(1, steps).Select(s => Str(s)), rows.Select(r => r[1]));
        Assert.All(rows, r => Assert.NotEqual("", r[15]));   // reward_mean, the first RL column

        using var procs = new ClusterProcesses(output);
        const int control = 47804;
        var seed = procs.Start("seed", "node", "seed", "--port", "47803", "--control", $"127.0.0.1:{control}", "--journal", "sqlite:" + Path.Combine(dir, "journal.db"),
            "--threads", "1");
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up:"), Patience, "the seed");
        var dom = Loaded($"http://127.0.0.1:{control}/?probe=1");   // the newest run: the only one
        var canvases = CanvasTag().Matches(dom).Select(m => (Metric: m.Groups[1].Value, Points: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), Runs: int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture))).ToList();
        output.WriteLine("canvases: " + string.Join(", ", canvases.Select(c => $"{c.Metric}={c.Points}/{c.Runs}")));
        Assert.Equal(["loss", "lr", "gradNorm", "tokensPerSecond", "stepSeconds", "evalLoss", .. RlCharts], canvases.Select(c => c.Metric));
        Assert.All(canvases.Where(c => c.Metric != "evalLoss"), c => Assert.Equal((steps, 1), (c.Points, c.Runs)));   // every step drawn
        Assert.Equal((0, 0), (canvases[5].Points, canvases[5].Runs));                                                     // no --eval-data
        Assert.Empty(HiddenRlChart().Matches(dom));
        var run = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(Probe().Match(dom).Groups[1].Value)).RootElement.GetProperty("runs").EnumerateObject().Single().Value;
        var rl = run.GetProperty("rl");
        for (var i = 0; i < RlCharts.Length; i++)   // the exported values, exactly (columns 15… of `run metrics`)
            Assert.Equal(rows.Select(r => D(r[15 + i])), rl.GetProperty(RlCharts[i]).EnumerateArray().Select(e => e.GetDouble()));
        Directory.Delete(dir, true);
    }

    /// <summary>The page's DOM once its data has loaded (it sets data-ready on the body); Chromium is run again if it
    /// dumped the page before that (a loaded machine).</summary>
    internal static string Loaded(string url)
    {
        for (var attempt = 1; ; attempt++)
        {
            var dom = Chromium.Run(url, "--dump-dom", Patience);
            if (dom.Contains("data-ready=\"1\"", StringComparison.Ordinal) || attempt == 3) return dom;
        }
    }

    internal static string Artifacts()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public async Task A_forced_loss_spike_is_one_alert_log_line_a_metrics_gauge_and_on_the_dashboard()
    {
        var dir = TestRuns.TempRunDir("dash-alert");
        const int control = 47802;
        string[] args = ["MINIMIND_TEST_LOSS_SPIKE_STEPS=40", .. Train(dir, 400)[..^2], "--control", $"127.0.0.1:{control}"];
        using var c = ChildProcess.Start("env", args, RepoPaths.Root);
        await Poll.Until(() => c.Process.HasExited || c.Saw("alert: loss_spike"), Patience, "the alert's log line", intervalMs: 50);
        Assert.False(c.Process.HasExited, "the run ended before its alert: " + string.Join('\n', c.Lines));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{control}") };
        var metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);
        var alerts = await http.GetStringAsync("/api/alerts", TestContext.Current.CancellationToken);
        c.Signal("INT");
        Assert.Equal(0, await c.Exit(Patience, TestContext.Current.CancellationToken));

        var line = Assert.Single(c.Lines, l => l.Contains("alert:", StringComparison.Ordinal));
        output.WriteLine(line);
        Assert.Matches(@"alert: loss_spike in minimind-train-pretrain-\w+ at step 41: loss [0-9.]+ > 3×EMA [0-9.]+$", line);
        Assert.Matches(@"(?m)^minimind_alert\{run=""minimind-train-pretrain-\w+"",kind=""loss_spike""\} 1$", metrics);
        Assert.Matches(@"(?m)^minimind_alert\{run=""minimind-train-pretrain-\w+"",kind=""stalled""\} 0$", metrics);
        Assert.Matches(@"(?m)^minimind_alerts_total\{run=""minimind-train-pretrain-\w+"",kind=""loss_spike""\} 1$", metrics);
        var listed = Assert.Single(JsonDocument.Parse(alerts).RootElement.GetProperty("alerts").EnumerateArray());
        Assert.Equal(("loss_spike", 41L), (listed.GetProperty("kind").GetString(), listed.GetProperty("step").GetInt64()));
        Directory.Delete(dir, true);
    }
}
