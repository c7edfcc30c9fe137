using System.Globalization;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>Real `minimind node …` / `minimind ctl …` child processes on loopback (ports 47400-47499), all killed
/// (whole process tree) when disposed, also when a test fails.</summary>
sealed class ClusterProcesses(ITestOutputHelper output) : IDisposable
{
    public static readonly string Cli = RepoPaths.Cli;

    readonly List<(string Name, ChildProcess Process)> nodes = [];

    public ChildProcess Start(string name, params string[] args) => Start(name, null, args);

    public ChildProcess Start(string name, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        // `env --default-signal=INT` (it execs dotnet: same pid): a test host started in the background by a
        // non-interactive shell inherits SIGINT as ignored, and so would the child; `ctl cluster tail` must see Ctrl+C.
        var node = ChildProcess.Start("env", ["--default-signal=INT", "dotnet", Cli, .. args], RepoPaths.Root, env);
        output.WriteLine($"{ChildProcess.Stamp} start {name}: {string.Join(' ', args)}");
        lock (nodes) nodes.Add((name, node));
        return node;
    }

    /// <param name="journal">a SQLite file, or a full `postgres:…` journal spec.</param>
    /// <param name="device">the seed's --device (null: none, the seed computes nothing).</param>
    public ChildProcess Seed(int port, int control, string journal, string? device = "cpu") =>
        Start("seed", ["node", "seed", "--port", Str(port), "--control", $"127.0.0.1:{control}", "--journal",
            journal.StartsWith("postgres:", StringComparison.Ordinal) ? journal : $"sqlite:{journal}",
            "--failure-detector", "fast", "--threads", "1", .. (device is not null ? new[] { "--device", device } : [])]);

    /// <param name="computeDelayMs">paces the run (each micro-batch waits this long) so the test can act mid-run.</param>
    public ChildProcess Worker(string name, int seedPort, int port = 0, int computeDelayMs = 0, string device = "cpu") =>
        Start(name, new Dictionary<string, string> { ["MINIMIND_TEST_COMPUTE_DELAY_MS"] = Str(computeDelayMs) }, "node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--device", device, "--port", Str(port), "--failure-detector", "fast", "--threads", "1");

    /// <summary>Runs `minimind ctl …` to the end.</summary>
    public async Task<(int Code, List<string> Lines)> Ctl(TimeSpan timeout, params string[] args)
    {
        var node = Start("ctl", ["ctl", .. args]);
        var code = await node.Exit(timeout, TestContext.Current.CancellationToken);
        return (code, [.. node.Lines]);
    }

    /// <summary>The run's committed step from GET /api/train/status (-1 while the endpoint is down or has no run).</summary>
    public static async Task<long> Step(int control)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{control}/api/train/status"));
            return doc.RootElement.GetProperty("step").GetInt64();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return -1;
        }
    }

    /// <summary>The node's event lines from GET /api/train/status (empty while the endpoint is down).</summary>
    public static async Task<List<string>> Events(int control)
    {
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{control}/api/train/status"));
            return [.. doc.RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetString() ?? "")];
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return [];
        }
    }

    public static Task WaitForEvent(int control, string text, TimeSpan timeout) =>
        Poll.Until(async () => (await Events(control)).Any(e => e.Contains(text, StringComparison.Ordinal)), timeout, $"event '{text}'");

    public static Task WaitForStep(int control, long step, TimeSpan timeout) =>
        Poll.Until(async () => await Step(control) >= step, timeout, $"step {step}");

    public static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    public static Task WaitFor(Func<bool> condition, TimeSpan timeout, string what) => Poll.Until(condition, timeout, what);

    public void Dispose()
    {
        lock (nodes)
        {
            foreach (var (name, node) in nodes)
            {
                node.Dispose();
                foreach (var l in node.Stamped) output.WriteLine($"[{name}] {l}");
            }
        }
    }
}
