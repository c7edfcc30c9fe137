using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MiniMind.Bench;

/// <summary>One `dotnet minimind.dll …` child of the chaos suite: its stdout and stderr lines as they come, the last
/// "step N/M" line it printed, and the way it ended (exit code, or the signal the suite sent).</summary>
sealed class ChaosProcess : IDisposable
{
    public Process Process { get; }

    public ConcurrentQueue<string> Out { get; } = new();

    public ConcurrentQueue<string> Err { get; } = new();

    /// <summary>"KILL" or "TERM" once the suite signalled the process.</summary>
    public string? Signalled { get; private set; }

    ChaosProcess(ProcessStartInfo psi)
    {
        Process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) Out.Enqueue(e.Data); };
        Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Err.Enqueue(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public static ChaosProcess Start(string cli, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return new ChaosProcess(psi);
    }

    public bool Exited => Process.HasExited;

    /// <summary>The highest step of the "step N/M | …" lines so far (0: none).</summary>
    public long LastStep => Out.Select(StepOf).DefaultIfEmpty(0).Max();

    /// <summary>The step of a "step N/M | …" line, 0 for any other line.</summary>
    public static long StepOf(string line) =>
        line.StartsWith("step ", StringComparison.Ordinal) && line.IndexOf('/') is > 5 and var slash
        && long.TryParse(line.AsSpan(5, slash - 5), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 0;

    public bool Saw(string prefix) => Out.Any(l => l.StartsWith(prefix, StringComparison.Ordinal));

    public void Kill()
    {
        if (Process.HasExited) return;
        Signalled ??= "KILL";
        try { Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }   // already gone
    }

    /// <summary>Sends SIGTERM (a supervisor's stop) with the kill command.</summary>
    public void Terminate()
    {
        Signalled ??= "TERM";
        using var k = Process.Start("kill", ["-TERM", Process.Id.ToString(CultureInfo.InvariantCulture)]);
        k?.WaitForExit();
    }

    /// <summary>Waits for the exit (a TimeoutException after <paramref name="timeout"/>: a hang) and returns how it ended:
    /// the exit code, "KILL" for a SIGKILL the suite sent, "TERM→code" for a SIGTERM.</summary>
    public string WaitExit(TimeSpan timeout)
    {
        if (!Process.WaitForExit(timeout)) { Kill(); throw new TimeoutException($"pid {Process.Id} did not exit within {timeout}"); }
        Process.WaitForExit();   // drains the redirected output
        var code = Process.ExitCode.ToString(CultureInfo.InvariantCulture);
        return Signalled switch { "KILL" => "KILL", "TERM" => $"TERM→{code}", _ => code };
    }

    public int ExitCode => Process.ExitCode;

    /// <summary>Lines of stderr that show a fault: a stack frame, an unhandled exception, a supervised child's failure
    /// ("worker-0 failed (…); restarting it"), a native TorchSharp error.</summary>
    public IEnumerable<string> Faults => Err.Concat(Out).Where(IsFault).Select(l => $"[{Name}] {l}");

    /// <summary>Each fault once: for a stack trace the line above its first frame (the message), else the fault line.</summary>
    public IEnumerable<string> FaultHeads()
    {
        foreach (var stream in new[] { Err.ToArray(), Out.ToArray() })
            for (var i = 0; i < stream.Length; i++)
            {
                if (!IsFault(stream[i])) continue;
                var frame = System.Text.RegularExpressions.Regex.IsMatch(stream[i], @"^\s+at ");
                if (!frame) yield return $"[{Name}] {stream[i]}";
                else if (i > 0 && !IsFault(stream[i - 1])) yield return $"[{Name}] {stream[i - 1]} // then {stream[i].Trim()}";
            }
    }

    /// <summary>"pid 123 node worker": the process in fault lines.</summary>
    public string Name => $"pid {Process.Id} {string.Join(' ', Process.StartInfo.ArgumentList.Skip(1).Take(2))}";

    public static bool IsFault(string l) =>
        System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+at [\w.`<>]+[.(]") || l.Contains("Unhandled exception", StringComparison.Ordinal)
        || System.Text.RegularExpressions.Regex.IsMatch(l, @"\b[\w-]+ failed \(\w+(Exception|Error)\b") || l.Contains("Scalar.h", StringComparison.Ordinal)
        || l.Contains("c10::", StringComparison.Ordinal);

    public void Dispose()
    {
        Kill();
        Process.WaitForExit(10_000);
        Process.Dispose();
    }

    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout} waiting for {what}");
            Thread.Sleep(20);
        }
    }
}
