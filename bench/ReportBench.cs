using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MiniMind.Model;

namespace MiniMind.Bench;

/// <summary>
/// The README's figures table (issue 12, item 6), measured and written in one command:
///   report [--rounds 1] [--steps 6] [--main-job-steps N] [--threads 2] [--cli minimind.dll] [--readme README.md] [--no-write]
/// Every figure runs the production path (<c>minimind train pretrain</c> as a child process, <see cref="PipelineRun"/>) and,
/// in the same round, the PyTorch reference (bench/pytorch, Debian python3-torch) on the same shape and threads:
/// minimind2-small B4×T256 fp32 and bf16 (round by round: ours fp32, PyTorch, ours bf16), the tiny B16×T128 shape of the
/// main job (its default --dtype auto), the peak RSS of minimind2-small B8×T512 fp32, and the wall time of the README's
/// main job (<c>train pretrain</c> with no arguments; <c>--main-job-steps N</c> runs only N of its steps and scales the time
/// per step to the full run, marked as such). Each row carries its own load average; the header the CPU, its flags, the
/// date and the commit. The table replaces the text between the README's <see cref="Begin"/> and <see cref="End"/> markers.
/// </summary>
public static class ReportBench
{
    public const string Begin = "<!-- bench report: begin -->";
    public const string End = "<!-- bench report: end -->";

    sealed record Row(string Figure, string Target, string Ours, string PyTorch, string Ratio, bool? Met, double Load);

    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--rounds", "--steps", "--main-job-steps", "--threads", "--cli", "--readme"], ["--no-write"]);
        int rounds = a.Int("--rounds", 1), steps = a.Int("--steps", 6), threads = a.Int("--threads", 2);
        int? mainSteps = a.String("--main-job-steps") is null ? null : a.Int("--main-job-steps", 1);
        var cli = PipelineRun.FindCli(a.String("--cli"));
        var root = PipelineRun.RepoRoot();
        var readme = Path.GetFullPath(a.Get("--readme", Path.Combine(root, "README.md")));
        if (!a.Flag("--no-write") && !File.ReadAllText(readme).Contains(Begin, StringComparison.Ordinal))
            throw new BenchArgumentException($"{readme} has no '{Begin}' … '{End}' markers to write between");
        var started = DateTime.UtcNow;
        Console.WriteLine($"report: cpu {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}; {started:yyyy-MM-dd HH:mm} UTC; {rounds} round(s), {steps} timed steps per run, {threads} threads");
        var rows = new List<Row>();

        // minimind2-small B4×T256: ours fp32, PyTorch fp32, ours bf16, alternating round by round.
        var small = MiniMindConfig.Load("minimind2-small");
        var fp32 = new List<PipelineRun.Result>();
        var bf16 = new List<PipelineRun.Result>();
        var torchSmall = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            fp32.Add(Ours("minimind2-small", 4, 256, steps, "fp32", threads, cli));
            if (Torch(small, 4, 256, steps, threads) is { } t) torchSmall.Add(t.Tps);
            bf16.Add(Ours("minimind2-small", 4, 256, steps, "bf16", threads, cli));
        }
        rows.Add(SpeedRow("minimind2-small B4×T256 fp32, tok/s", 2.0, fp32, torchSmall));
        rows.Add(SpeedRow("minimind2-small B4×T256 bf16 (PyTorch fp32), tok/s", Measure.CpuHasNativeBf16() ? 3.0 : null, bf16, torchSmall));

        // The main job's shape, tiny B16×T128, at its default dtype.
        var tiny = MiniMindConfig.Load("tiny");
        var ourTiny = new List<PipelineRun.Result>();
        var torchTiny = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            ourTiny.Add(Ours("tiny", 16, 128, steps * 3, "auto", threads, cli));
            if (Torch(tiny, 16, 128, steps * 3, threads) is { } t) torchTiny.Add(t.Tps);
        }
        rows.Add(SpeedRow("tiny B16×T128 (--dtype auto), tok/s", 2.5, ourTiny, torchTiny));

        // Memory: minimind2-small B8×T512 fp32, 2 steps each.
        var mem = Ours("minimind2-small", 8, 512, 2, "fp32", threads, cli);
        var torchMem = Torch(small, 8, 512, 2, threads);
        rows.Add(new Row("minimind2-small B8×T512 fp32, peak RSS", "≤ 2,600 MB", F($"{mem.PeakRssMb:N0} MB"),
            torchMem is { } tm ? F($"{tm.RssMb:N0} MB") : "–", torchMem is { } tm2 ? F($"{mem.PeakRssMb / tm2.RssMb:F2}×") : "–",
            mem.PeakRssMb <= 2600, mem.Load));

        // The README's main job: `minimind train pretrain`, no arguments (tiny, 1,375 steps).
        rows.Add(MainJob(cli, mainSteps));

        var table = Table(rows, started, threads);
        Console.WriteLine(table);
        if (!a.Flag("--no-write"))
        {
            Write(readme, table);
            Console.WriteLine($"wrote the table into {readme}");
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "report",
            rows = rows.Select(r => new { figure = r.Figure, target = r.Target, ours = r.Ours, pytorch = r.PyTorch, ratio = r.Ratio, met = r.Met, load = r.Load }),
            cpu = Measure.CpuSummary(), load_average = Measure.LoadAverage(),
        }));
        return 0;
    }

    static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    static PipelineRun.Result Ours(string preset, int batch, int seqLen, int steps, string dtype, int threads, string cli)
    {
        var dir = Directory.CreateTempSubdirectory("minimind-bench-report-").FullName;
        try
        {
            var r = PipelineRun.Run(cli, PipelineRun.PretrainArgs(preset, batch, seqLen, steps + 1, dtype, threads, dir));
            Console.WriteLine(F($"  ours {preset} B{batch}×T{seqLen} {dtype}: {r.TokensPerSecond:F0} tok/s, peak RSS {r.PeakRssMb:F0} MB, {r.WallSeconds:F1} s; load {r.Load:F2}"));
            return r;
        }
        finally { Directory.Delete(dir, true); }
    }

    static (double Tps, double RssMb)? Torch(MiniMindConfig config, int batch, int seqLen, int steps, int threads)
    {
        var p = PyTorchRef.Run("train", config, threads, "--batch", $"{batch}", "--seq-len", $"{seqLen}", "--steps", $"{steps}", "--warmup", "1");
        if (p is not { } j) return null;
        var result = (j.GetProperty("tokens_per_second").GetDouble(), j.GetProperty("peak_rss_mb").GetDouble());
        Console.WriteLine(F($"  pytorch B{batch}×T{seqLen} fp32: {result.Item1:F0} tok/s, peak RSS {result.Item2:F0} MB; load {Measure.LoadAverage():F2}"));
        return result;
    }

    static Row SpeedRow(string figure, double? target, List<PipelineRun.Result> ours, List<double> torch)
    {
        var tps = Measure.Median(ours.Select(o => o.TokensPerSecond ?? double.NaN));
        var load = ours.Max(o => o.Load);
        if (torch.Count == 0) return new Row(figure, target is { } t0 ? F($"≥ {t0:F1}×") : "–", F($"{tps:N0}"), "–", "–", null, load);
        var py = Measure.Median(torch);
        var ratio = tps / py;
        return new Row(figure, target is { } t ? F($"≥ {t:F1}×") : "– (no native bf16)", F($"{tps:N0}"), F($"{py:N0}"), F($"{ratio:F2}×"),
            target is { } t1 ? ratio >= t1 : null, load);
    }

    static Row MainJob(string cli, int? steps)
    {
        var dir = Directory.CreateTempSubdirectory("minimind-bench-mainjob-").FullName;
        try
        {
            var args = new List<string> { "train", "pretrain", "--run-dir", dir };
            if (steps is { } n) args.AddRange(["--max-steps", $"{n}"]);
            var r = PipelineRun.Run(cli, args);
            // The remaining steps at the run's rate (start-up and data preparation counted once): the tiny quick start
            // is batch 16 × 127 positions (config/train/pretrain.tiny.json), 1,375 steps over dataset/pretrain.jsonl.
            const long FullSteps = 1375, PositionsPerStep = 16 * 127;
            var full = steps is { } s && s < FullSteps && r.TokensPerSecond is > 0 and var tps
                ? r.WallSeconds + (FullSteps - s) * PositionsPerStep / tps
                : r.WallSeconds;
            var what = steps is { } s2 && s2 < FullSteps ? F($"{full / 60:F1} min (from {s2} steps: {r.WallSeconds:F0} s)") : F($"{full / 60:F1} min");
            Console.WriteLine(F($"  main job: {what}, {r.TokensPerSecond:F0} tok/s, peak RSS {r.PeakRssMb:F0} MB; load {r.Load:F2}"));
            return new Row("README main job `train pretrain` (tiny, 1,375 steps), wall", "≤ 3 min", what, "–", "–", full <= 180, r.Load);
        }
        finally { Directory.Delete(dir, true); }
    }

    static string Table(List<Row> rows, DateTime started, int threads)
    {
        var sb = new StringBuilder();
        sb.AppendLine(F($"Measured {started:yyyy-MM-dd HH:mm} UTC at commit {Commit()} by `dotnet run -c Release --project bench -- report` on {Measure.CpuSummary()}, {threads} thread(s) per side;"));
        sb.AppendLine($"ours = the production `minimind train pretrain` (summary line's tokens_per_second), PyTorch = MiniMind's model and step on Debian's python3-torch (`bench/pytorch`; BLAS {PyTorchRef.Blas ?? "not run"}), alternating; load = 1-minute load average after the run.");
        sb.AppendLine();
        sb.AppendLine("| figure | target | ours | PyTorch | ratio | met | load |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            sb.AppendLine(F($"| {r.Figure} | {r.Target} | {r.Ours} | {r.PyTorch} | {r.Ratio} | {(r.Met switch { true => "yes", false => "no", null => "–" })} | {r.Load:F1} |"));
        return sb.ToString().TrimEnd();
    }

    /// <summary>Replaces the text between the markers (kept) with <paramref name="table"/>.</summary>
    public static void Write(string readme, string table)
    {
        var text = File.ReadAllText(readme);
        int b = text.IndexOf(Begin, StringComparison.Ordinal), e = text.IndexOf(End, StringComparison.Ordinal);
        if (b < 0 || e < b) throw new InvalidOperationException($"{readme}: markers '{Begin}' … '{End}' not found in that order");
        var updated = text[..(b + Begin.Length)] + "\n" + table + "\n" + text[e..];
        var tmp = readme + ".tmp";
        File.WriteAllText(tmp, updated);
        File.Move(tmp, readme, overwrite: true);
    }

    static string Commit()
    {
        try
        {
            var psi = new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = PipelineRun.RepoRoot() };
            using var p = Process.Start(psi)!;
            var s = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && s.Length > 0 ? s : "?";
        }
        catch (System.ComponentModel.Win32Exception) { return "?"; }
    }
}
