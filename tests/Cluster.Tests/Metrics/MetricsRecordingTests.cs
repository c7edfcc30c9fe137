using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>A run as `minimind train` hosts it records every step in its journal's database and its TensorBoard files,
/// with the values the coordinator reported.</summary>
[Collection(PostgresCollection.Name)]
public class MetricsRecordingTests(PostgresFixture postgres)
{
    [Fact]
    public Task A_run_records_every_step_in_its_sqlite_journal_and_tensorboard() =>
        RecordsEveryStep(dir => JournalSpec.Parse("sqlite", dir));

    [Fact]
    public Task A_run_records_every_step_in_its_postgres_journal_and_tensorboard() =>
        RecordsEveryStep(_ => JournalSpec.Parse("postgres:" + postgres.ConnectionString(), "."));

    static async Task RecordsEveryStep(Func<string, JournalSpec> journalOf)
    {
        const int steps = 8;
        var dir = TestRuns.TempRunDir("metrics-run");
        var settings = TestRuns.Tiny(dir, steps);
        var journal = journalOf(dir);
        var result = await TestRuns.RunAsync(settings, journal);
        Assert.Equal(Outcome.Completed, result.Finished.Outcome);

        var reported = result.Reports.OfType<TrainingProgress>().ToDictionary(p => p.Step);
        Assert.Equal(steps, reported.Count);   // --log-interval 1: every step reported
        var rows = new MetricsStore(journal).Read(RunIdentity.CoordinatorPersistenceId(settings)).ToList();
        Assert.Equal(Enumerable.Range(1, steps).Select(s => (long)s), rows.Select(r => r.Step));
        var inputPositions = TrainingRate.InputPositionsPerStep(settings);
        foreach (var r in rows)
        {
            var p = reported[r.Step];
            Assert.Equal((p.Loss, p.Lr, p.GradNorm, p.StepTokens, p.Epoch), (r.Loss, r.Lr, r.GradNorm, r.LossTokens, r.Epoch));
            Assert.True(r.StepSeconds > 0 && r.ComputeSeconds > 0, $"step {r.Step}: {r}");   // compute may overlap the previous step's commit
            Assert.Equal(inputPositions / r.StepSeconds, r.TokensPerSecond, 6);
            Assert.Equal(r.LossTokens / r.StepSeconds, r.LossTokensPerSecond, 6);
            Assert.True(r.RssBytes > 50_000_000, $"rss {r.RssBytes}");
        }

        var scalars = TfEvents.Read(Path.Combine(dir, "tensorboard", "pretrain"));
        foreach (var (tag, value) in new (string, Func<MetricsRow, double>)[]
                 {
                     ("train/loss", r => r.Loss), ("train/lr", r => r.Lr), ("train/grad_norm", r => r.GradNorm),
                     ("train/tokens_per_second", r => r.TokensPerSecond), ("train/loss_tokens_per_second", r => r.LossTokensPerSecond),
                     ("train/step_seconds", r => r.StepSeconds),
                 })
            Assert.Equal(rows.Select(r => (r.Step, (float)value(r))), scalars.Where(s => s.Tag == tag).OrderBy(s => s.Step).Select(s => (s.Step, s.Value)));
    }

    /// <summary>A worker fault at step 8 reloads the checkpoint of step 4 and redoes steps 5–7: the history and the
    /// TensorBoard files keep each step once, with the values of a run without the fault (bitwise resume).</summary>
    [Fact]
    public async Task Steps_redone_after_a_worker_reload_are_kept_once_with_the_values_of_an_unfaulted_run()
    {
        const int steps = 10;
        var (refDir, dir) = (TestRuns.TempRunDir("metrics-nofault"), TestRuns.TempRunDir("metrics-fault"));
        var (refSettings, settings) = (TestRuns.Tiny(refDir, steps, 4), TestRuns.Tiny(dir, steps, 4));
        Assert.Equal(Outcome.Completed, (await TestRuns.RunAsync(refSettings)).Finished.Outcome);
        var faulted = await TestRuns.RunAsync(settings, faults: new FaultPlan(7));
        Assert.Equal(Outcome.Completed, faulted.Finished.Outcome);
        Assert.Contains(faulted.Reports.OfType<TrainingNotice>(), n => n.Text.Contains("redoing from step 4", StringComparison.Ordinal));

        static List<(long, int, double, double, double, long)> Deterministic(TrainingSettings s) =>
            [.. new MetricsStore(JournalSpec.Parse("sqlite", s.RunDir)).Read(RunIdentity.CoordinatorPersistenceId(s))
                .Select(r => (r.Step, r.Epoch, r.Loss, r.Lr, r.GradNorm, r.LossTokens))];
        var expected = Deterministic(refSettings);
        Assert.Equal(Enumerable.Range(1, steps).Select(s => (long)s), expected.Select(r => r.Item1));
        Assert.Equal(expected, Deterministic(settings));
        var losses = TfEvents.Read(Path.Combine(dir, "tensorboard", "pretrain")).Where(x => x.Tag == "train/loss").OrderBy(x => x.Step).ToList();
        Assert.Equal(expected.Select(r => (r.Item1, (float)r.Item3)), losses.Select(x => (x.Step, x.Value)));
    }

    /// <summary>--eval-data every 3 steps on a run whose worker faults at step 8 (reloads step 4, redoes 5–7): the weights
    /// end bitwise as without evaluation, each evaluation is kept once (step 6's redone one replaces the first, with the
    /// same values), in the store and as eval/* scalars.</summary>
    [Fact]
    public async Task Held_out_evaluation_changes_no_weight_and_each_evaluation_is_kept_once_after_a_redo()
    {
        const int steps = 10;
        var (refDir, dir) = (TestRuns.TempRunDir("eval-off"), TestRuns.TempRunDir("eval-on"));
        var heldOut = Path.Combine(dir, "heldout.jsonl");
        File.WriteAllLines(heldOut, File.ReadLines(RepoPaths.Dataset("pretrain.jsonl")).TakeLast(8));
        var refSettings = TestRuns.Tiny(refDir, steps, 4);
        var settings = TestRuns.Tiny(dir, steps, 4) with { Eval = new EvalSettings(heldOut, 3, 2) };
        Assert.Equal(Outcome.Completed, (await TestRuns.RunAsync(refSettings)).Finished.Outcome);
        var run = await TestRuns.RunAsync(settings, faults: new FaultPlan(7));
        Assert.Equal(Outcome.Completed, run.Finished.Outcome);

        Assert.Equal(File.ReadAllBytes(Path.Combine(refDir, refSettings.OutputFileName)), File.ReadAllBytes(Path.Combine(dir, settings.OutputFileName)));
        Assert.Equal(TestRuns.FinalCheckpoint(refDir, steps), TestRuns.FinalCheckpoint(dir, steps));   // model, AdamW and RNG state
        var measured = run.Reports.OfType<EvalMeasured>().ToList();
        Assert.Equal([3L, 6, 6, 9, 10], measured.Select(m => m.Step));                       // step 6 redone after the reload
        Assert.Equal(measured[1] with { Elapsed = default }, measured[2] with { Elapsed = default });   // the same weights, the same numbers
        Assert.All(measured, m => Assert.True(double.IsFinite(m.Loss) && m.Loss > 0 && m.Tokens > 0 && m.Samples == 4, m.ToString()));
        Assert.All(measured, m => Assert.Equal(Math.Exp(m.Loss), m.Perplexity, 12));
        Assert.NotEqual(measured[0].Loss, measured[^1].Loss);

        var stored = new MetricsStore(JournalSpec.Parse("sqlite", dir)).ReadEval(RunIdentity.CoordinatorPersistenceId(settings));
        Assert.Equal(measured.Where((_, i) => i != 1).Select(m => (m.Step, m.Loss, m.Perplexity, m.Tokens)), stored.Select(e => (e.Step, e.Loss, e.Perplexity, e.Tokens)));
        var scalars = TfEvents.Read(Path.Combine(dir, "tensorboard", "pretrain"));
        Assert.Equal(stored.Select(e => (e.Step, (float)e.Loss)), scalars.Where(x => x.Tag == "eval/loss").OrderBy(x => x.Step).Select(x => (x.Step, x.Value)));
        Assert.Equal(stored.Select(e => (e.Step, (float)e.Perplexity)), scalars.Where(x => x.Tag == "eval/perplexity").OrderBy(x => x.Step).Select(x => (x.Step, x.Value)));
    }

    [Fact]
    public async Task Tensorboard_off_writes_no_event_files_but_keeps_the_history()
    {
        var dir = TestRuns.TempRunDir("metrics-notb");
        var settings = TestRuns.Tiny(dir, 3) with { TensorBoard = false };
        var result = await TestRuns.RunAsync(settings);
        Assert.Equal(Outcome.Completed, result.Finished.Outcome);
        Assert.False(Directory.Exists(Path.Combine(dir, "tensorboard")));
        Assert.Equal(3, new MetricsStore(JournalSpec.Parse("sqlite", dir)).Read(RunIdentity.CoordinatorPersistenceId(settings)).Count());
    }
}
