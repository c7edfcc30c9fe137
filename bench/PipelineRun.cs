using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MiniMind.Bench;

/// <summary>The production path, as a user runs it: the <c>minimind</c> executable (<c>train &lt;stage&gt; …</c>: node,
/// coordinator, data loader, worker, aggregator, journal, checkpoint writer) started as a child process. Returns its
/// summary line (the last stdout line: tokens_per_second over the moving window without the warm-up step, loss,
/// elapsed), the child's wall time and its peak RSS (VmHWM, polled every 50 ms until it exits).</summary>
public static class PipelineRun
{
    public const string DefaultCli = "src/Cli/bin/Release/net10.0/minimind.dll";

    public sealed record Result(double? TokensPerSecond, double? Loss, long Steps, double WallSeconds, double PeakRssMb, double UserSeconds, double SysSeconds, double Load, string[] Lines);

    /// <summary>The CLI (a built minimind.dll or executable); a clear error when it is not built.</summary>
    public static string FindCli(string? given)
    {
        var cli = Path.GetFullPath(given ?? DefaultCli);
        return File.Exists(cli) ? cli : throw new BenchArgumentException($"{cli} not found: run `dotnet build src/Cli -c Release` first (or pass --cli)");
    }

    /// <summary>The CLI arguments of a pretrain run of <paramref name="steps"/> steps on the sample data with B×T input
    /// positions (max_seq_len = T + 1, no accumulation), in <paramref name="runDir"/>.</summary>
    public static List<string> PretrainArgs(string preset, int batch, int seqLen, int steps, string dtype, int threads, string runDir) =>
    [
        "train", "pretrain", "--config", preset, "--batch-size", $"{batch}", "--max-seq-len", $"{seqLen + 1}", "--accumulation-steps", "1",
        "--max-steps", $"{steps}", "--dtype", dtype, "--threads", $"{threads}", "--run-dir", runDir, "--save-interval", "1000000",
    ];

    /// <summary>Runs <c>minimind</c> with <paramref name="args"/> and fails (naming the exit code and the last lines)
    /// unless it exits 0 with a completed summary line.</summary>
    public static Result Run(string cli, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(cli.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : cli)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot(),
        };
        if (cli.EndsWith(".dll", StringComparison.Ordinal)) psi.ArgumentList.Add(cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var wall = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        double peakKb = 0;
        (double User, double Sys) cpu = default;
        while (!p.WaitForExit(50))
        {
            try
            {
                peakKb = Math.Max(peakKb, StatusKb(p.Id, "VmHWM:"));
                cpu = CpuSeconds(p.Id);
            }
            catch (IOException) { }                 // exited between the check and the read
            catch (UnauthorizedAccessException) { }
        }
        p.WaitForExit();
        wall.Stop();
        var lines = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var last = lines.LastOrDefault(l => l.StartsWith('{'));
        if (p.ExitCode != 0 || last is null)
            throw new InvalidOperationException($"minimind {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result.Trim()} {string.Join('\n', lines.TakeLast(3))}");
        var summary = JsonDocument.Parse(last).RootElement;
        if (summary.GetProperty("outcome").GetString() != "completed")
            throw new InvalidOperationException($"minimind {string.Join(' ', args)}: outcome {summary.GetProperty("outcome")}, not completed");
        static double? Number(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        return new Result(Number(summary, "tokens_per_second"), Number(summary, "loss"), summary.GetProperty("steps").GetInt64(),
            wall.Elapsed.TotalSeconds, peakKb / 1024, cpu.User, cpu.Sys, Measure.LoadAverage(), lines);
    }

    /// <summary>The repository root (holds MiniMind.Actors.sln): the CLI's relative defaults (config/, dataset/) resolve there.</summary>
    public static string RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "MiniMind.Actors.sln"))) return dir.FullName;
        throw new BenchArgumentException("run the bench from the repository (MiniMind.Actors.sln not found above the current directory)");
    }

    static double StatusKb(int pid, string key)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return double.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>utime and stime of a live process (/proc/pid/stat, 100 Hz ticks), in seconds.</summary>
    static (double User, double Sys) CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (double.Parse(f[11], CultureInfo.InvariantCulture) / 100, double.Parse(f[12], CultureInfo.InvariantCulture) / 100);
    }
}
