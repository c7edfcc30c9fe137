using Microsoft.Data.Sqlite;
using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The RL stage's per-step measurements in the metrics store (issue 16): kept beside the step's row, read back
/// with it (exactly: the sums are stored), dropped by a rewind, absent for the other stages; and a database written
/// before the RL table existed opens unchanged, its rows reading as having no RL values; a long run's RL curve is read
/// from the RL rollups, which follow the rows through rewinds and redone steps.</summary>
[Collection(PostgresCollection.Name)]
public class MetricsStoreRlTests(PostgresFixture postgres)
{
    static RlMetrics Rl(long step) => new(6, 0.5 * step, 1.25 * step, 40 + step, 0.003 * step, 0.25 * step, 1.5 + step, 0.01 * step);

    static MetricsRow RlRow(long step, double loss) => MetricsStoreTests.Row(step, loss) with { Rl = Rl(step) };

    [Fact]
    public void Sqlite_keeps_the_rl_measurements_of_each_step_once() =>
        Check(new MetricsStore(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("metrics-rl"), "j.db"), ".")));

    [Fact]
    public void Postgres_keeps_the_rl_measurements_of_each_step_once() =>
        Check(new MetricsStore(JournalSpec.Parse("postgres:" + postgres.ConnectionString(), ".")));

    static void Check(MetricsStore store)
    {
        var run = $"minimind-train-grpo-{Guid.NewGuid():N}"[..36];
        var plain = $"minimind-train-pretrain-{Guid.NewGuid():N}"[..40];
        store.Upsert(run, [.. Enumerable.Range(1, 12).Select(s => RlRow(s, 1.0 / s))]);
        store.Upsert(plain, [.. Enumerable.Range(1, 3).Select(s => MetricsStoreTests.Row(s, 2.0))]);
        store.Upsert(run, [RlRow(10, 9.5) with { Rl = Rl(100) }]);                    // redone: replaced

        var rows = store.Read(run).ToList();
        Assert.Equal(Enumerable.Range(1, 12).Select(s => (long)s), rows.Select(r => r.Step));
        Assert.Equal(RlRow(4, 1.0 / 4), rows[3]);                                       // every value back exactly
        Assert.Equal(Rl(100), rows[9].Rl);
        Assert.Equal(0.5 * 7 / 6, rows[6].Rl!.RewardMean, 12);
        Assert.All(store.Read(plain), r => Assert.Null(r.Rl));                          // no RL values for the other stages

        store.Truncate(run, 8);
        Assert.Equal(8, store.Read(run).Count());
        store.Upsert(run, [MetricsStoreTests.Row(9, 3.0) with { Rl = Rl(9) }]);         // the redone step 9, after the rewind
        Assert.Equal([.. Enumerable.Range(1, 9).Select(s => (long)s)], store.Read(run).Where(r => r.Rl is not null).Select(r => r.Step));

        // the dashboard's curve: a bucket's RL values are over all its steps' completions
        var series = store.Series(run, 1, 9, 3);
        Assert.Equal(3, series.Points.Count);
        var first = series.Points[0].Rl!;
        Assert.Equal(18, first.Completions);
        Assert.Equal((0.5 + 1.0 + 1.5) / 18, first.RewardMean, 12);
    }

    [Fact]
    public void Sqlite_rolls_up_a_long_rl_run_and_recomputes_the_buckets_after_a_rewind() =>
        CheckRollups(new MetricsStore(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("metrics-rl-rollup"), "j.db"), ".")));

    [Fact]
    public void Postgres_rolls_up_a_long_rl_run_and_recomputes_the_buckets_after_a_rewind() =>
        CheckRollups(new MetricsStore(JournalSpec.Parse("postgres:" + postgres.ConnectionString(), ".")));

    /// <summary>The RL sums of steps <paramref name="first"/>…<paramref name="last"/> with <paramref name="rl"/>'s values.</summary>
    static RlMetrics Over(long first, long last, Func<long, RlMetrics> rl) =>
        RlMetrics.Sum(Enumerable.Range((int)first, (int)(last - first + 1)).Select(s => (RlMetrics?)rl(s)))!;

    /// <summary>Equal sums, up to the rounding of a different summation order.</summary>
    static void AssertSums(RlMetrics expected, RlMetrics? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Completions, actual.Completions);
        double[] e = [expected.RewardSum, expected.RewardSquares, expected.Tokens, expected.KlSum, expected.ClipSum, expected.RolloutSeconds, expected.RewardSeconds];
        double[] a = [actual.RewardSum, actual.RewardSquares, actual.Tokens, actual.KlSum, actual.ClipSum, actual.RolloutSeconds, actual.RewardSeconds];
        for (var i = 0; i < e.Length; i++) Assert.Equal(e[i], a[i], 1e-9 * Math.Max(1, Math.Abs(e[i])));
    }

    /// <summary>A long GRPO run (30,000 steps, written in batches as the recorder flushes them): its whole-run curve is
    /// read from the rollups with each bucket's RL values (the same as merging its raw steps), and a rewind and the redone
    /// steps recompute the buckets they touch.</summary>
    static void CheckRollups(MetricsStore store)
    {
        var run = $"minimind-train-grpo-{Guid.NewGuid():N}"[..36];
        for (var b = 0; b < 30; b++) store.Upsert(run, [.. Enumerable.Range(b * 1000 + 1, 1000).Select(s => RlRow(s, 1.0 / s))]);

        var hundreds = store.Series(run, 1, long.MaxValue, 300, rawLimit: 1000);    // 30,000 rows > 1,000: the 100-step rollups
        Assert.Equal((100L, 300), (hundreds.Every, hundreds.Points.Count));
        Assert.Equal(0.5 * Enumerable.Range(101, 100).Sum() / 600, hundreds.Points[1].Rl!.RewardMean, 12);
        Assert.Equal(Enumerable.Range(101, 100).Sum(s => 0.25 * s) / Enumerable.Range(101, 100).Sum(s => 40.0 + s), hundreds.Points[1].Rl!.ClipFraction, 12);
        var raw = store.Series(run, 1, long.MaxValue, 300);                            // the same buckets merged from the raw rows
        Assert.Equal(300, raw.Points.Count);
        for (var k = 0; k < 300; k++)
        {
            Assert.Equal((raw.Points[k].FirstStep, raw.Points[k].Step), (hundreds.Points[k].FirstStep, hundreds.Points[k].Step));
            AssertSums(Over(100 * k + 1, 100 * k + 100, Rl), hundreds.Points[k].Rl);
            AssertSums(raw.Points[k].Rl!, hundreds.Points[k].Rl);
        }
        var tenThousands = store.Series(run, 1, long.MaxValue, 300, rawLimit: 100);  // 300 buckets of 100 > 100: the 10,000-step ones
        Assert.Equal((10_000L, 3), (tenThousands.Every, tenThousands.Points.Count));
        for (var k = 0; k < 3; k++) AssertSums(Over(10_000 * k + 1, 10_000 * k + 10_000, Rl), tenThousands.Points[k].Rl);

        store.Truncate(run, 25_050);                                                   // resumed from step 25,050
        var rewound = store.Series(run, 1, long.MaxValue, 300, rawLimit: 1000);
        Assert.Equal((251, 25_050L), (rewound.Points.Count, rewound.Points[^1].Step));
        AssertSums(Over(25_001, 25_050, Rl), rewound.Points[^1].Rl);
        AssertSums(Over(20_001, 25_050, Rl), store.Series(run, 1, long.MaxValue, 300, rawLimit: 100).Points[^1].Rl);

        static RlMetrics Redone(long s) => Rl(2 * s);
        store.Upsert(run, [.. Enumerable.Range(25_051, 100).Select(s => RlRow(s, 2.0) with { Rl = Redone(s) })]);
        store.Upsert(run, [RlRow(150, 3.0) with { Rl = Rl(1000) }]);                  // a step redone inside a bucket
        var redone = store.Series(run, 1, long.MaxValue, 300, rawLimit: 1000);
        Assert.Equal((252, 25_150L), (redone.Points.Count, redone.Points[^1].Step));
        AssertSums(Over(25_001, 25_050, Rl).Add(Over(25_051, 25_100, Redone)), redone.Points[^2].Rl);
        AssertSums(Over(25_101, 25_150, Redone), redone.Points[^1].Rl);
        AssertSums(Over(101, 149, Rl).Add(Rl(1000)).Add(Over(151, 200, Rl)), redone.Points[1].Rl);
        var coarse = store.Series(run, 1, long.MaxValue, 300, rawLimit: 100).Points;
        AssertSums(Over(1, 149, Rl).Add(Rl(1000)).Add(Over(151, 10_000, Rl)), coarse[0].Rl);
        AssertSums(Over(20_001, 25_050, Rl).Add(Over(25_051, 25_150, Redone)), coarse[^1].Rl);
    }

    [Fact]
    public void Rl_rows_written_before_the_rl_rollups_are_rolled_up_when_the_store_opens()
    {
        var file = Path.Combine(TestRuns.TempRunDir("metrics-rl-fill"), "j.db");
        const string run = "minimind-train-grpo-before";
        new MetricsStore(JournalSpec.Parse("sqlite:" + file, ".")).Upsert(run, [.. Enumerable.Range(1, 2500).Select(s => RlRow(s, 1.0))]);
        using (var c = new SqliteConnection($"Data Source={file}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"DROP TABLE {MetricsStore.RlRollupTable}";
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        var series = new MetricsStore(JournalSpec.Parse("sqlite:" + file, ".")).Series(run, 1, long.MaxValue, 100, rawLimit: 1000);
        Assert.Equal((100L, 25), (series.Every, series.Points.Count));
        for (var k = 0; k < 25; k++) AssertSums(Over(100 * k + 1, 100 * k + 100, Rl), series.Points[k].Rl);
    }

    /// <summary>The metrics tables as the store created them before the RL table (issue 14's schema).</summary>
    const string OldSchema = """
        CREATE TABLE minimind_metrics (
          run TEXT NOT NULL, step BIGINT NOT NULL, epoch INTEGER NOT NULL, loss REAL NOT NULL, lr REAL NOT NULL,
          grad_norm REAL NOT NULL, loss_tokens BIGINT NOT NULL, tokens_per_second REAL NOT NULL, loss_tokens_per_second REAL NOT NULL,
          step_seconds REAL NOT NULL, compute_seconds REAL NOT NULL, rss_bytes BIGINT NOT NULL, wall_time_ms BIGINT NOT NULL,
          PRIMARY KEY (run, step));
        CREATE TABLE minimind_metrics_rollup (
          run TEXT NOT NULL, every INTEGER NOT NULL, bucket BIGINT NOT NULL, count BIGINT NOT NULL,
          loss_min REAL NOT NULL, loss_mean REAL NOT NULL, loss_max REAL NOT NULL, lr_mean REAL NOT NULL,
          grad_norm_min REAL NOT NULL, grad_norm_mean REAL NOT NULL, grad_norm_max REAL NOT NULL,
          tokens_per_second_mean REAL NOT NULL, step_seconds_min REAL NOT NULL, step_seconds_mean REAL NOT NULL,
          step_seconds_max REAL NOT NULL, rss_bytes_max BIGINT NOT NULL,
          PRIMARY KEY (run, every, bucket));
        CREATE TABLE minimind_metrics_runs (
          run TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, stage TEXT NOT NULL, run_dir TEXT NOT NULL, settings TEXT NOT NULL,
          began_ms BIGINT NOT NULL, ended_ms BIGINT NULL);
        INSERT INTO minimind_metrics VALUES ('minimind-train-sft-old', 1, 0, 2.5, 0.001, 1.5, 41, 1001, 501, 0.01, 0.005, 1000001, 1700000000001);
        INSERT INTO minimind_metrics VALUES ('minimind-train-sft-old', 2, 0, 2.25, 0.0005, 2.5, 42, 1002, 502, 0.02, 0.01, 1000002, 1700000000002);
        """;

    [Fact]
    public void A_database_written_before_the_rl_table_opens_and_reads_its_rows_without_rl_values()
    {
        var file = Path.Combine(TestRuns.TempRunDir("metrics-old"), "j.db");
        using (var c = new SqliteConnection($"Data Source={file}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = OldSchema;
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        var store = new MetricsStore(JournalSpec.Parse("sqlite:" + file, "."));
        var rows = store.Read("minimind-train-sft-old").ToList();
        Assert.Equal([1L, 2L], rows.Select(r => r.Step));
        Assert.Equal(2.25, rows[1].Loss);
        Assert.All(rows, r => Assert.Null(r.Rl));
        Assert.Equal("minimind-train-sft-old", Assert.Single(store.AllRuns()).Run);

        // and it takes an RL run's rows from now on
        store.Upsert("minimind-train-grpo-new", [RlRow(1, 0.75)]);
        Assert.Equal(RlRow(1, 0.75), Assert.Single(store.Read("minimind-train-grpo-new")));
    }
}
