using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>Real `minimind node …` / `minimind ctl …` child processes on loopback (ports 47400-47499), all killed
/// (whole process tree) when disposed, also when a test fails.</summary>
sealed class ClusterProcesses(ITestOutputHelper output) : IDisposable
{
    public static readonly string Cli = Path.Combine(TestRuns.Repo, "src", "Cli", "bin",
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!), "net10.0", "minimind.dll");

    readonly List<Node> nodes = [];
    static readonly Stopwatch Clock = Stopwatch.StartNew();
    static string Stamp => Clock.Elapsed.TotalSeconds.ToString("000.0", CultureInfo.InvariantCulture);

    public sealed class Node(string name, Process process) 
    {
        public string Name { get; } = name;
        public Process Process { get; } = process;
        public ConcurrentQueue<string> Lines { get; } = new();
        public ConcurrentQueue<string> Stamped { get; } = new();

        public bool Saw(string text) => Lines.Any(l => l.Contains(text, StringComparison.Ordinal));

        public void KillHard()
        {
            if (Process.HasExited) return;
            Process.Kill(entireProcessTree: true);   // SIGKILL
            Process.WaitForExit();
        }
    }

    public Node Start(string name, params string[] args) => Start(name, null, args);

    public Node Start(string name, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = TestRuns.Repo, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var node = new Node(name, Process.Start(psi)!);
        output.WriteLine($"{Stamp} start {name}: {string.Join(' ', args)}");
        node.Process.OutputDataReceived += (_, e) => { if (e.Data is not null) node.Lines.Enqueue(e.Data); };
        node.Process.OutputDataReceived += (_, e) => { if (e.Data is not null) node.Stamped.Enqueue($"{Stamp} {e.Data}"); };
        node.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) node.Lines.Enqueue("stderr: " + e.Data); };
        node.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) node.Stamped.Enqueue($"{Stamp} stderr: {e.Data}"); };
        node.Process.BeginOutputReadLine();
        node.Process.BeginErrorReadLine();
        lock (nodes) nodes.Add(node);
        return node;
    }

    /// <param name="journal">a SQLite file, or a full `postgres:…` journal spec.</param>
    /// <param name="device">the seed's --device (null: none, the seed computes nothing).</param>
    public Node Seed(int port, int control, string journal, string? device = "cpu") =>
        Start("seed", ["node", "seed", "--port", Str(port), "--control", $"127.0.0.1:{control}", "--journal",
            journal.StartsWith("postgres:", StringComparison.Ordinal) ? journal : $"sqlite:{journal}",
            "--failure-detector", "fast", "--threads", "1", .. (device is not null ? new[] { "--device", device } : [])]);

    /// <param name="computeDelayMs">paces the run (each micro-batch waits this long) so the test can act mid-run.</param>
    public Node Worker(string name, int seedPort, int port = 0, int computeDelayMs = 0, string device = "cpu") =>
        Start(name, new Dictionary<string, string> { ["MINIMIND_TEST_COMPUTE_DELAY_MS"] = Str(computeDelayMs) }, "node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--device", device, "--port", Str(port), "--failure-detector", "fast", "--threads", "1");

    /// <summary>Runs `minimind ctl …` to the end.</summary>
    public async Task<(int Code, List<string> Lines)> Ctl(TimeSpan timeout, params string[] args)
    {
        var node = Start("ctl", ["ctl", .. args]);
        await node.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(timeout, TestContext.Current.CancellationToken);
        node.Process.WaitForExit();
        return (node.Process.ExitCode, [.. node.Lines]);
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

    public static async Task WaitForEvent(int control, string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!(await Events(control)).Any(e => e.Contains(text, StringComparison.Ordinal)))
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for event '{text}'");
            await Task.Delay(100);
        }
    }

    public static async Task WaitForStep(int control, long step, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (await Step(control) < step)
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for step {step}");
            await Task.Delay(100);
        }
    }

    public static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    public static async Task WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        lock (nodes)
        {
            foreach (var n in nodes)
            {
                try { n.KillHard(); } catch (InvalidOperationException) { }
                foreach (var l in n.Stamped) output.WriteLine($"[{n.Name}] {l}");
                n.Process.Dispose();
            }
        }
    }
}
