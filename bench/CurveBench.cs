using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniMind.Bench;

/// <summary>
/// The bf16 accuracy check of issue 12 (item 1), through the production path on real data:
///   curve [--preset minimind2-small] [--batch 16] [--seq-len 64] [--steps 200] [--log-interval 10] [--after 20] [--tolerance 0.01] [--threads 2] [--cli minimind.dll]
/// Runs <c>minimind train pretrain</c> twice on the sample data (dataset/pretrain.jsonl), <c>--dtype fp32</c> and
/// <c>--dtype bf16</c>, with the same seed: the same init, the same batches in the same order, printing every step's
/// loss (<c>--log-interval 1</c>). A log point every <c>--log-interval</c> steps is the <b>mean loss over that
/// interval</b> (steps s−K+1 … s), as a smoothed training curve shows it: one step's loss on one small batch measures
/// the batch as much as the weights, and two runs whose weights drifted apart by rounding differ on single batches by
/// more than their curves do (at 4×64 one-step points failed at 11 of 18 points, up to 5.6 %). Checks
/// |bf16 − fp32| / fp32 ≤ tolerance at every log point after step <c>--after</c>; the largest single-step gap is printed
/// too, for information. Exit code 0 when it holds, 1 when not (the table shows where).
/// </summary>
public static partial class CurveBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--preset", "--batch", "--seq-len", "--steps", "--log-interval", "--after", "--tolerance", "--threads", "--cli");
        var preset = a.Get("--preset", "minimind2-small");
        int batch = a.Int("--batch", 16), seqLen = a.Int("--seq-len", 64), steps = a.Int("--steps", 200), logInterval = a.Int("--log-interval", 10);
        int after = a.Int("--after", 20), threads = a.Int("--threads", 2);
        var tolerance = a.Double("--tolerance", 0.01);
        var cli = PipelineRun.FindCli(a.String("--cli"));
        Console.WriteLine($"curve: minimind train pretrain --config {preset} B{batch}×T{seqLen}, {steps} steps, fp32 vs bf16 from the same seed and data; a log point = the mean loss of the {logInterval} steps up to it");
        Console.WriteLine($"cpu: {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var curves = new Dictionary<string, SortedDictionary<long, double>>();
        var runs = new Dictionary<string, PipelineRun.Result>();
        foreach (var dtype in new[] { "fp32", "bf16" })
        {
            var dir = Directory.CreateTempSubdirectory("minimind-bench-curve-").FullName;
            try
            {
                var args2 = PipelineRun.PretrainArgs(preset, batch, seqLen, steps, dtype, threads, dir);
                args2.AddRange(["--log-interval", "1", "--seed", "42"]);
                var run = PipelineRun.Run(cli, args2);
                runs[dtype] = run;
                curves[dtype] = Losses(run.Lines);
                Console.WriteLine(FormattableString.Invariant($"  {dtype}: {run.TokensPerSecond:F0} tok/s, {run.WallSeconds:F0} s wall, {curves[dtype].Count} steps logged, final loss {run.Loss:F4}; load {run.Load:F2}"));
            }
            finally { Directory.Delete(dir, true); }
        }
        var fp32Points = IntervalMeans(curves["fp32"], logInterval);
        var bf16Points = IntervalMeans(curves["bf16"], logInterval);
        var rows = fp32Points.Keys.Intersect(bf16Points.Keys).Order()
            .Select(s => (Step: s, Fp32: fp32Points[s], Bf16: bf16Points[s], Gap: Math.Abs(bf16Points[s] - fp32Points[s]) / Math.Abs(fp32Points[s])))
            .ToList();
        if (rows.Count == 0) throw new InvalidOperationException("no log points in the runs' output");
        var singleSteps = curves["fp32"].Keys.Intersect(curves["bf16"].Keys).Where(s => s > after)
            .Select(s => (Step: s, Gap: Math.Abs(curves["bf16"][s] - curves["fp32"][s]) / Math.Abs(curves["fp32"][s]))).ToList();
        var worstSingle = singleSteps.Count > 0 ? singleSteps.MaxBy(x => x.Gap) : default;
        Console.WriteLine($"   step  fp32 mean bf16 mean   rel. gap   (mean loss of the {logInterval} steps up to the step)");
        foreach (var r in rows)
            Console.WriteLine(FormattableString.Invariant($"  {r.Step,5} {r.Fp32,9:F4} {r.Bf16,9:F4} {r.Gap,9:P2}{(r.Step > after && r.Gap > tolerance ? "  > tolerance" : "")}"));
        var checkedRows = rows.Where(r => r.Step > after).ToList();
        var worst = checkedRows.Count > 0 ? checkedRows.Max(r => r.Gap) : double.NaN;
        var ok = checkedRows.Count > 0 && worst <= tolerance;
        Console.WriteLine(FormattableString.Invariant($"largest relative gap after step {after}: {worst:P2} over {checkedRows.Count} log points (tolerance {tolerance:P0}): {(ok ? "within" : "NOT within")}"));
        Console.WriteLine(FormattableString.Invariant($"for information, single steps after step {after}: largest gap {worstSingle.Gap:P2} (step {worstSingle.Step}), {singleSteps.Count(x => x.Gap > tolerance)} of {singleSteps.Count} steps above {tolerance:P0}"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "curve", preset, batch, seq_len = seqLen, steps, log_interval = logInterval, after, tolerance,
            log_point = "mean loss over the interval", log_points = checkedRows.Count, max_rel_gap_after = Math.Round(worst, 6), within = ok,
            max_single_step_rel_gap_after = Math.Round(worstSingle.Gap, 6),
            final_loss_fp32 = runs["fp32"].Loss, final_loss_bf16 = runs["bf16"].Loss,
            tokens_per_second_fp32 = runs["fp32"].TokensPerSecond, tokens_per_second_bf16 = runs["bf16"].TokensPerSecond,
            cpu = Measure.CpuSummary(), load_average = Measure.LoadAverage(),
        }));
        return ok ? 0 : 1;
    }

    /// <summary>step → the mean loss of steps (step − interval, step], at every multiple of <paramref name="interval"/>
    /// whose steps were all logged.</summary>
    public static SortedDictionary<long, double> IntervalMeans(SortedDictionary<long, double> losses, int interval)
    {
        if (interval < 1) throw new BenchArgumentException($"--log-interval {interval}: must be ≥ 1");
        var result = new SortedDictionary<long, double>();
        foreach (var step in losses.Keys.Where(s => s % interval == 0))
        {
            var window = Enumerable.Range(1, interval).Select(i => step - interval + i).ToList();
            if (window.All(losses.ContainsKey)) result[step] = window.Average(s => losses[s]);
        }
        return result;
    }

    /// <summary>step → loss from the train log's progress lines (<c>step N/M | epoch E | loss X | …</c>).</summary>
    public static SortedDictionary<long, double> Losses(IEnumerable<string> lines)
    {
        var result = new SortedDictionary<long, double>();
        foreach (var line in lines)
            if (ProgressLine().Match(line) is { Success: true } m)
                result[long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        return result;
    }

    [GeneratedRegex(@"^step (\d+)/\d+ \| epoch \d+ \| loss ([0-9.eE+-]+|NaN) \|")]
    private static partial Regex ProgressLine();
}
