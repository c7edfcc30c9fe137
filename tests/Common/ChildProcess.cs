using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MiniMind.Tests.Common;

/// <summary>
/// A child process whose stdout and stderr lines are collected as they come (stderr lines prefixed "stderr: "), each
/// also with the seconds since the test process started. Disposing kills the whole process tree if it still runs, so a
/// failing test leaves nothing behind.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    static readonly Stopwatch Clock = Stopwatch.StartNew();

    public Process Process { get; }

    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>The same lines, each prefixed with the seconds since the test process started (for test output).</summary>
    public ConcurrentQueue<string> Stamped { get; } = new();

    ChildProcess(ProcessStartInfo psi)
    {
        Process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        Process.OutputDataReceived += (_, e) => Add(e.Data, "");
        Process.ErrorDataReceived += (_, e) => Add(e.Data, "stderr: ");
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="args"/> (each passed as one argument).</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, bool redirectInput = false)
    {
        var psi = Info(fileName, args, workingDirectory);
        psi.RedirectStandardInput = redirectInput;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        return new ChildProcess(psi);
    }

    /// <summary>The seconds since the test process started, as the stamps show them.</summary>
    public static string Stamp => Clock.Elapsed.TotalSeconds.ToString("000.0", CultureInfo.InvariantCulture);

    public bool Saw(string text) => Lines.Any(l => l.Contains(text, StringComparison.Ordinal));

    public bool HasLineStartingWith(string prefix) => Lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Waits for the exit (a <see cref="TimeoutException"/> after <paramref name="timeout"/>: a hang) and
    /// returns the exit code once all output has been read.</summary>
    public async Task<int> Exit(TimeSpan timeout, CancellationToken ct = default)
    {
        await Process.WaitForExitAsync(ct).WaitAsync(timeout, ct);
        Process.WaitForExit();   // drains the redirected output
        return Process.ExitCode;
    }

    /// <summary>Sends <paramref name="signal"/> (INT = a terminal's Ctrl+C, TERM…) with the kill command.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -{signal} {Process.Id} failed ({kill.ExitCode})");
    }

    /// <summary>SIGKILLs the whole process tree and waits for it.</summary>
    public void KillHard()
    {
        if (Process.HasExited) return;
        Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        try { KillHard(); }
        catch (InvalidOperationException) { }   // never started or already reaped
        Process.Dispose();
    }

    void Add(string? line, string prefix)
    {
        if (line is null) return;
        Lines.Enqueue(prefix + line);
        Stamped.Enqueue($"{Stamp} {prefix}{line}");
    }

    public sealed record Result(int ExitCode, string Out, string Error)
    {
        public string LastLine => Out.TrimEnd().Split('\n')[^1].Trim();
    }

    /// <summary>Runs to the end with stdout and stderr read whole; kills the tree and throws after
    /// <paramref name="timeout"/>. <paramref name="input"/>, if given, is written to stdin, which is then closed;
    /// <paramref name="configure"/> may adjust the start info (environment…).</summary>
    public static Result Run(string fileName, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null,
        string? input = null, Action<ProcessStartInfo>? configure = null)
    {
        var argList = args.ToList();
        var psi = Info(fileName, argList, workingDirectory);
        psi.RedirectStandardInput = input is not null;
        configure?.Invoke(psi);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', argList)} did not finish in {timeout}");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    static ProcessStartInfo Info(string fileName, IEnumerable<string> args, string? workingDirectory)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        return psi;
    }
}
