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
