using Microsoft.Data.Sqlite;
using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The RL stage's per-step measurements in the metrics store (issue 16): kept beside the step's row, read back
/// with it (exactly: the sums are stored), dropped by a rewind, absent for the other stages; and a database written
/// before the RL table existed opens unchanged, its rows reading as having no RL values.</summary>
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
