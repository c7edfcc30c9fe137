using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The per-step history in the journal's database: a redone step replaces its row, a rewind drops the rows past
/// it, the rollups follow the raw rows (issue 14) — on SQLite and on PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public class MetricsStoreTests(PostgresFixture postgres)
{
    internal static MetricsRow Row(long step, double loss) =>
        new(step, 0, loss, 1e-3 / step, 0.5 + step, 40 + step, 1000 + step, 500 + step, 0.01 * step, 0.005 * step, 1_000_000 + step, 1_700_000_000_000 + step);

    [Fact]
    public void Sqlite_keeps_each_step_once_and_rolls_up() =>
        Check(new MetricsStore(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("metrics-store"), "j.db"), ".")));

    [Fact]
    public void Postgres_keeps_each_step_once_and_rolls_up() =>
        Check(new MetricsStore(JournalSpec.Parse("postgres:" + postgres.ConnectionString(), ".")));

    static void Check(MetricsStore store)
    {
        var run = $"minimind-train-pretrain-{Guid.NewGuid():N}"[..40];
        var other = run + "-other";
        store.Upsert(run, [.. Enumerable.Range(1, 250).Select(s => Row(s, 10.0 / s))]);
        store.Upsert(other, [Row(1, 99)]);
        store.Upsert(run, [.. Enumerable.Range(200, 11).Select(s => Row(s, 7.25))]);   // redone: replaced, not added

        var rows = store.Read(run).ToList();
        Assert.Equal(Enumerable.Range(1, 250).Select(s => (long)s), rows.Select(r => r.Step));
        Assert.Equal(Row(150, 10.0 / 150), rows[149]);
        Assert.All(rows.Where(r => r.Step is >= 200 and <= 210), r => Assert.Equal(Row(r.Step, 7.25), r));
        Assert.Equal(Enumerable.Range(3, 5).Select(s => (long)s), store.Read(run, 3, 7).Select(r => r.Step));

        var hundreds = store.Rollups(run, 100);
        Assert.Equal([(0L, 100L), (1L, 100L), (2L, 50L)], hundreds.Select(h => (h.Bucket, h.Count)));
        var third = rows.Where(r => r.Step > 200).ToList();
        Assert.Equal(third.Min(r => r.Loss), hundreds[2].LossMin);
        Assert.Equal(third.Max(r => r.Loss), hundreds[2].LossMax);
        Assert.Equal(third.Average(r => r.Loss), hundreds[2].LossMean, 12);
        Assert.Equal(250, Assert.Single(store.Rollups(run, 10_000)).Count);

        store.Truncate(run, 205);   // resumed from step 205: later steps will be redone
        Assert.Equal(205, store.Read(run).Max(r => r.Step));
        Assert.Equal(205, store.Read(run).Count());
        Assert.Equal([(0L, 100L), (1L, 100L), (2L, 5L)], store.Rollups(run, 100).Select(h => (h.Bucket, h.Count)));
        Assert.Equal(205, Assert.Single(store.Rollups(run, 10_000)).Count);
        Assert.Equal(99, Assert.Single(store.Read(other)).Loss);   // another run in the same journal is untouched
        CheckEval(store, run, other);
    }

    /// <summary>Held-out evaluations: written with the steps (or alone), a redone one replaced, dropped past a rewind, a
    /// NaN kept as NaN (SQLite stores it as NULL).</summary>
    static void CheckEval(MetricsStore store, string run, string other)
    {
        static EvalRow Eval(long step, double loss) => new(step, loss, Math.Exp(loss), 100 * step, 1_700_000_000_000 + step);
        store.Upsert(run, [Row(206, 1)], [Eval(100, 6.5), Eval(200, 5.5)]);
        store.Upsert(run, [], [Eval(200, 5.25), Eval(206, double.NaN)]);                     // 200 redone, 206 diverged
        store.Upsert(other, [], [Eval(1, 9)]);
        var evals = store.ReadEval(run);
        Assert.Equal([Eval(100, 6.5), Eval(200, 5.25)], evals.Take(2));
        Assert.Equal((206L, true, true), (evals[2].Step, double.IsNaN(evals[2].Loss), double.IsNaN(evals[2].Perplexity)));
        Assert.Equal([Eval(200, 5.25)], store.ReadEval(run, 150, 205));
        store.Truncate(run, 199);
        Assert.Equal([Eval(100, 6.5)], store.ReadEval(run));
        Assert.Equal([Eval(1, 9)], store.ReadEval(other));
    }
}
