using System.Globalization;
using System.Text.Json;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The headline of issue 14 with real processes: `minimind train` SIGKILLed after its history was flushed past
/// the newest checkpoint, then resumed, leaves the exported history (`minimind run metrics`) and the TensorBoard files
/// holding every step exactly once, with the values of an uninterrupted run (bitwise resume). The killed run evaluates a
/// held-out file every <see cref="EvalInterval"/> steps (--eval-data), the uninterrupted one does not: the evaluations are
/// there exactly once too, and the steps and the output weights are bitwise those of the run without evaluation.</summary>
public class MetricsKillResumeTests(ITestOutputHelper output)
{
    static readonly string Cli = RepoPaths.Cli;
    const int Steps = 160;
    const int SaveInterval = 40;
    const int EvalInterval = 40;

    static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    static string[] TrainArgs(string runDir) =>
        ["--default-signal=INT", "dotnet", Cli, "train", "pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", Str(Steps),
            "--batch-size", "4", "--max-seq-len", "128", "--accumulation-steps", "2", "--save-interval", Str(SaveInterval), "--log-interval", "20"];

    static ChildProcess.Result Metrics(params string[] args) => ChildProcess.Run("dotnet", [Cli, "run", "metrics", .. args], TimeSpan.FromMinutes(2), RepoPaths.Root);

    /// <summary>(journaled checkpoints, newest recorded step) of a run dir's journal, read while the run writes.</summary>
    static (int Checkpoints, long NewestStep) Progress(string runDir) => (RunJournal.Checkpoints(runDir), RunJournal.NewestRecordedStep(runDir));

    /// <summary>Held-out text: 24 lines of the sample data's end (training reads the first 160 × 8 samples of its permutation).</summary>
    static string HeldOut()
    {
        var file = Path.Combine(TestRuns.TempRunDir("metrics-heldout"), "heldout.jsonl");
        File.WriteAllLines(file, File.ReadLines(Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl")).TakeLast(24));
        return file;
    }

    static string[] EvalArgs(string runDir, string heldOut) => [.. TrainArgs(runDir), "--eval-data", heldOut, "--eval-interval", Str(EvalInterval), "--eval-batches", "3"];

    static async Task<(int Code, List<string> Lines)> RunToEnd(string[] args)
    {
        using var c = ChildProcess.Start("env", args, RepoPaths.Root);
        var code = await c.Exit(TimeSpan.FromMinutes(4), TestContext.Current.CancellationToken);
        return (code, [.. c.Lines]);
    }

    static List<string[]> Csv(string text) => [.. text.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r').Split(','))];

    [Fact]
    public async Task After_a_SIGKILL_and_resume_the_history_and_tensorboard_hold_every_step_once_with_the_uninterrupted_values()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        var reference = TestRuns.TempRunDir("metrics-ref");
        var killed = TestRuns.TempRunDir("metrics-kill");
        var heldOut = HeldOut();
        Assert.Equal(0, (await RunToEnd(TrainArgs(reference))).Code);

        (int Checkpoints, long NewestStep) atKill;
        using (var c = ChildProcess.Start("env", EvalArgs(killed, heldOut), RepoPaths.Root))
        {
            // Killed once the recorded history runs past the newest journaled checkpoint: those steps are redone.
            await Poll.Until(() => c.Process.HasExited || Progress(killed) is { Checkpoints: > 0 } p && p.NewestStep > p.Checkpoints * SaveInterval + 3,
                TimeSpan.FromMinutes(3), "history past a checkpoint", intervalMs: 20);
            c.KillHard();
            atKill = await RunJournal.AfterKill(killed);
            output.WriteLine($"killed with {atKill.Checkpoints} checkpoint(s) journaled and steps up to {atKill.NewestStep} recorded");
        }
        var (code, lines) = await RunToEnd(EvalArgs(killed, heldOut));
        Assert.Equal(0, code);
        Assert.Contains(lines, l => l.StartsWith($"eval step {Steps} | loss ", StringComparison.Ordinal));   // the log line
        var resumed = lines.Single(l => l.StartsWith("resumed from", StringComparison.Ordinal));
        output.WriteLine(resumed);
        var from = long.Parse(resumed[(resumed.LastIndexOf(" at step ", StringComparison.Ordinal) + 9)..resumed.LastIndexOf('/')], CultureInfo.InvariantCulture);
        Assert.True(atKill.NewestStep > from, $"recorded {atKill.NewestStep} ≤ resumed {from}: no step was redone");

        var a = Metrics("--run-dir", reference);
        var b = Metrics("--run-dir", killed, "--format", "csv");
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(0, b.ExitCode);
        var (refRows, rows) = (Csv(a.Out), Csv(b.Out));
        Assert.Equal("run,step,epoch,loss,lr,grad_norm,loss_tokens,tokens_per_second,loss_tokens_per_second,step_seconds,compute_seconds,rss_bytes,wall_time,eval_loss,eval_ppl," +
            "reward_mean,reward_std,kl,completion_length,clip_fraction,rollout_seconds,reward_seconds", string.Join(',', rows[0]));
        rows.RemoveAt(0);
        Assert.All(rows, r => Assert.All(r[15..], v => Assert.Equal("", v)));                   // no RL values in a pretrain run
        refRows.RemoveAt(0);
        Assert.Equal(Enumerable.Range(1, Steps).Select(s => Str(s)), rows.Select(r => r[1]));   // every step once, in order
        // run, step, epoch, loss, lr, grad norm, loss tokens: bitwise the uninterrupted run's (the R format round-trips)
        Assert.Equal(refRows.Select(r => string.Join(',', r[..7])), rows.Select(r => string.Join(',', r[..7])));
        // evaluation changes nothing of training: the same output file, bit for bit
        var weights = Directory.GetFiles(reference, "pretrain_*.pth").Select(Path.GetFileName).Single()!;
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, weights)), File.ReadAllBytes(Path.Combine(killed, weights)));
        // the evaluations: at every 40th step, once, with a finite loss and perplexity = exp(loss); none in the reference
        Assert.All(refRows, r => Assert.Equal(("", ""), (r[13], r[14])));
        var evaluated = rows.Where(r => r[13].Length > 0).ToList();
        Assert.Equal(Enumerable.Range(1, Steps / EvalInterval).Select(k => Str(k * EvalInterval)), evaluated.Select(r => r[1]));
        Assert.All(evaluated, r => Assert.Equal(Math.Exp(double.Parse(r[13], CultureInfo.InvariantCulture)), double.Parse(r[14], CultureInfo.InvariantCulture), 9));
        Assert.All(rows.Where(r => r[13].Length == 0), r => Assert.Equal("", r[14]));
        var evalLoss = evaluated.Select(r => double.Parse(r[13], CultureInfo.InvariantCulture)).ToList();
        Assert.True(evalLoss[^1] < evalLoss[0], $"held-out loss did not fall: {string.Join(", ", evalLoss)}");

        var scalars = TfEvents.Read(Path.Combine(killed, "tensorboard", "pretrain"));
        foreach (var tag in Cluster.Metrics.TensorBoardLog.Tags)
            Assert.Equal(Enumerable.Range(1, Steps).Select(s => (long)s), scalars.Where(s => s.Tag == tag).Select(s => s.Step).Order());
        Assert.Equal(rows.Select(r => (float)double.Parse(r[3], CultureInfo.InvariantCulture)),
            scalars.Where(s => s.Tag == "train/loss").OrderBy(s => s.Step).Select(s => s.Value));
        Assert.Equal(rows.Select(r => (float)double.Parse(r[9], CultureInfo.InvariantCulture)),
            scalars.Where(s => s.Tag == "train/step_seconds").OrderBy(s => s.Step).Select(s => s.Value));
        foreach (var (tag, column) in new[] { ("eval/loss", 13), ("eval/perplexity", 14) })
        {
            var points = scalars.Where(s => s.Tag == tag).OrderBy(s => s.Step).ToList();
            Assert.Equal(evaluated.Select(r => long.Parse(r[1], CultureInfo.InvariantCulture)), points.Select(p => p.Step));   // once each
            Assert.Equal(evaluated.Select(r => (float)double.Parse(r[column], CultureInfo.InvariantCulture)), points.Select(p => p.Value));
        }
        Assert.DoesNotContain(TfEvents.Read(Path.Combine(reference, "tensorboard", "pretrain")), s => s.Tag.StartsWith("eval/", StringComparison.Ordinal));

        // jsonl, --every, --from/--to
        var jsonl = Metrics("--run-dir", reference, "--format", "jsonl");
        Assert.Equal(0, jsonl.ExitCode);
        var objects = jsonl.Out.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(1, Steps).Select(s => (long)s), objects.Select(o => o.GetProperty("step").GetInt64()));
        Assert.Equal(refRows.Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)), objects.Select(o => o.GetProperty("loss").GetDouble()));
        Assert.All(objects, o => Assert.Equal("pretrain", o.GetProperty("run").GetString()));
        Assert.All(objects, o => Assert.Equal(JsonValueKind.Null, o.GetProperty("eval_loss").ValueKind));
        var evalJson = Metrics("--run-dir", killed, "--format", "jsonl", "--every", Str(EvalInterval)).Out.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(evalLoss, evalJson.Select(o => o.GetProperty("eval_loss").GetDouble()));
        Assert.All(objects, o => Assert.Equal(JsonValueKind.Null, o.GetProperty("reward_mean").ValueKind));
        var every = Metrics("--run-dir", reference, "--every", "40");
        Assert.Equal(["40", "80", "120", "160"], Csv(every.Out).Skip(1).Select(r => r[1]));
        var range = Metrics("--run-dir", reference, "--from", "3", "--to", "7", "--format", "jsonl");
        Assert.Equal([3L, 4, 5, 6, 7], range.Out.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64()));

        // errors name the flag or file, with the README's exit codes
        var missing = Metrics("--run-dir", Path.Combine(reference, "nope"));
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("--run-dir", missing.Error, StringComparison.Ordinal);
        var noStage = Metrics("--run-dir", reference, "--stage", "sft");
        Assert.Equal(3, noStage.ExitCode);
        Assert.Contains("--stage sft", noStage.Error, StringComparison.Ordinal);
        var badEvery = Metrics("--run-dir", reference, "--every", "0");
        Assert.Equal(2, badEvery.ExitCode);
        Assert.Contains("--every", badEvery.Error, StringComparison.Ordinal);
        var badFormat = Metrics("--run-dir", reference, "--format", "xml");
        Assert.Equal(2, badFormat.ExitCode);
        Assert.Contains("--format xml", badFormat.Error, StringComparison.Ordinal);
        var noJournal = Metrics("--run-dir", TestRuns.TempRunDir("metrics-empty"));
        Assert.Equal(3, noJournal.ExitCode);
        Assert.Contains("journal", noJournal.Error, StringComparison.Ordinal);
        Directory.Delete(reference, true);
        Directory.Delete(killed, true);
        Directory.Delete(Path.GetDirectoryName(heldOut)!, true);
    }
}
