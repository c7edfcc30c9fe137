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

    public Node Start(string name, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = TestRuns.Repo, RedirectStandardOutput = true, RedirectStandardError = true };
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

    public Node Seed(int port, int control, string journal, bool device = true) =>
        Start("seed", ["node", "seed", "--port", Str(port), "--control", $"127.0.0.1:{control}", "--journal", $"sqlite:{journal}",
            "--failure-detector", "fast", "--threads", "1", .. (device ? new[] { "--device", "cpu" } : [])]);

    public Node Worker(string name, int seedPort, int port = 0) =>
        Start(name, "node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--device", "cpu", "--port", Str(port), "--failure-detector", "fast", "--threads", "1");

    /// <summary>Runs `minimind ctl …` to the end.</summary>
    public async Task<(int Code, List<string> Lines)> Ctl(TimeSpan timeout, params string[] args)
    {
        var node = Start("ctl", ["ctl", .. args]);
        await node.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(timeout, TestContext.Current.CancellationToken);
        node.Process.WaitForExit();
        return (node.Process.ExitCode, [.. node.Lines]);
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
