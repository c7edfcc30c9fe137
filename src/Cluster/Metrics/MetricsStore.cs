using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using MiniMind.Actors;
using Npgsql;

namespace MiniMind.Cluster.Metrics;

/// <summary>
/// A run's per-step history (issue 14) in the journal's own database (SQLite or PostgreSQL), plain ADO.NET.
/// <list type="bullet">
/// <item><c>minimind_metrics</c>: one raw row per (run, step), <c>run</c> = the coordinator's persistence id. A step
/// redone after a resume replaces its row (upsert), and <see cref="Truncate"/> drops the rows past the step a run resumed
/// from before the redone ones arrive, so the table holds every step exactly once.</item>
/// <item><c>minimind_metrics_rollup</c>: downsampled views, per bucket of 100 and of 10,000 steps (bucket b = steps
/// b·N+1 … (b+1)·N): count and min/mean/max of loss, grad norm and step time, mean lr and tokens/s, max RSS. Each write
/// recomputes the buckets it touches: the 100-step ones from their raw rows, the 10,000-step ones from the 100-step ones.</item>
/// <item><c>minimind_metrics_eval</c>: one row per (run, step) of a held-out evaluation (<see cref="EvalRow"/>: mean NLL,
/// perplexity, tokens), sparse; replaced and truncated with the steps. Loss and perplexity may be NULL (a NaN in SQLite).</item>
/// <item><c>minimind_metrics_rl</c>: the RL stage's measurements of a step (<see cref="RlMetrics"/>, as its sums:
/// completions, Σ reward, Σ reward², completion tokens, Σ KL, Σ clipped, rollout and scoring seconds), one row per (run,
/// step) of an RL run and none for the other stages; a table of its own (created beside the others when missing), so a
/// database written before it opens unchanged and its rows read as having no RL values.</item>
/// <item><c>minimind_metrics_rl_rollup</c>: the RL values' downsampled views, per bucket of the same sizes: the sums of
/// <see cref="RlColumns"/> over the bucket's RL steps (sums, not means: a bucket's reward mean and std, KL and clip fraction
/// are then over all its completions and tokens, as when raw steps are merged), recomputed with the main rollups. A
/// database whose RL rows predate this table gets it filled from them when the store first opens it.</item>
/// <item><c>minimind_metrics_runs</c>: one row per run: its name, stage, run dir and settings (JSON), when it began and
/// ended (the dashboard's run list).</item>
/// </list>
/// Size policy: raw rows are kept (about 150 bytes a step: a million steps ≈ 150 MB); a curve over a long run reads
/// the 10,000-step view (100 rows for a million steps) or the 100-step one (10,000 rows), and the raw rows of the range it zooms into.
/// This file holds the schema and the writes; <c>MetricsStore.Rollup.cs</c> the rollups' recomputation, <c>MetricsStore.Read.cs</c> the reads.
/// </summary>
public sealed partial class MetricsStore
{
    public const string Table = "minimind_metrics";
    public const string RollupTable = "minimind_metrics_rollup";
    public const string RunsTable = "minimind_metrics_runs";
    public const string EvalTable = "minimind_metrics_eval";
    public const string RlTable = "minimind_metrics_rl";
    public const string RlRollupTable = "minimind_metrics_rl_rollup";
    /// <summary>The rollup bucket sizes, in steps.</summary>
    public static readonly IReadOnlyList<int> RollupEvery = [100, 10_000];

    /// <summary>The columns of <see cref="RlTable"/> after (run, step), in <see cref="RlMetrics"/>' order.</summary>
    public static readonly IReadOnlyList<string> RlColumns =
        ["completions", "reward_sum", "reward_squares", "completion_tokens", "kl_sum", "clip_sum", "rollout_seconds", "reward_seconds"];

    /// <summary>The columns of a row, in <see cref="MetricsRow"/>'s order after (run, step).</summary>
    public static readonly IReadOnlyList<string> Columns =
        ["epoch", "loss", "lr", "grad_norm", "loss_tokens", "tokens_per_second", "loss_tokens_per_second", "step_seconds", "compute_seconds", "rss_bytes", "wall_time_ms"];

    readonly JournalSpec journal;
    bool schemaReady;

    public MetricsStore(JournalSpec journal) => this.journal = journal;

    DbConnection Open()
    {
        DbConnection c = journal.IsPostgres ? new NpgsqlConnection(journal.ConnectionString) : new SqliteConnection(journal.ConnectionString);
        c.Open();
        if (!schemaReady)
        {
            EnsureSchema(c);
            schemaReady = true;
        }
        return c;
    }

    void EnsureSchema(DbConnection c)
    {
        var real = journal.IsPostgres ? "DOUBLE PRECISION" : "REAL";
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {Table} (
              run TEXT NOT NULL, step BIGINT NOT NULL, epoch INTEGER NOT NULL, loss {real} NOT NULL, lr {real} NOT NULL,
              grad_norm {real} NOT NULL, loss_tokens BIGINT NOT NULL, tokens_per_second {real} NOT NULL, loss_tokens_per_second {real} NOT NULL,
              step_seconds {real} NOT NULL, compute_seconds {real} NOT NULL, rss_bytes BIGINT NOT NULL, wall_time_ms BIGINT NOT NULL,
              PRIMARY KEY (run, step))
            """);
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {RollupTable} (
              run TEXT NOT NULL, every INTEGER NOT NULL, bucket BIGINT NOT NULL, count BIGINT NOT NULL,
              loss_min {real} NOT NULL, loss_mean {real} NOT NULL, loss_max {real} NOT NULL, lr_mean {real} NOT NULL,
              grad_norm_min {real} NOT NULL, grad_norm_mean {real} NOT NULL, grad_norm_max {real} NOT NULL,
              tokens_per_second_mean {real} NOT NULL, step_seconds_min {real} NOT NULL, step_seconds_mean {real} NOT NULL,
              step_seconds_max {real} NOT NULL, rss_bytes_max BIGINT NOT NULL,
              PRIMARY KEY (run, every, bucket))
            """);
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {EvalTable} (
              run TEXT NOT NULL, step BIGINT NOT NULL, loss {real} NULL, perplexity {real} NULL, tokens BIGINT NOT NULL,
              wall_time_ms BIGINT NOT NULL, PRIMARY KEY (run, step))
            """);
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {RlTable} (
              run TEXT NOT NULL, step BIGINT NOT NULL, completions INTEGER NOT NULL, reward_sum {real} NOT NULL, reward_squares {real} NOT NULL,
              completion_tokens {real} NOT NULL, kl_sum {real} NOT NULL, clip_sum {real} NOT NULL, rollout_seconds {real} NOT NULL,
              reward_seconds {real} NOT NULL,
              PRIMARY KEY (run, step))
            """);
        var rlRollupMissing = !TableExists(c, RlRollupTable);
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {RlRollupTable} (
              run TEXT NOT NULL, every INTEGER NOT NULL, bucket BIGINT NOT NULL, completions BIGINT NOT NULL, reward_sum {real} NOT NULL,
              reward_squares {real} NOT NULL, completion_tokens {real} NOT NULL, kl_sum {real} NOT NULL, clip_sum {real} NOT NULL,
              rollout_seconds {real} NOT NULL, reward_seconds {real} NOT NULL,
              PRIMARY KEY (run, every, bucket))
            """);
        if (rlRollupMissing) FillRlRollups(c);
        Execute(c, null, $"""
            CREATE TABLE IF NOT EXISTS {RunsTable} (
              run TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, stage TEXT NOT NULL, run_dir TEXT NOT NULL, settings TEXT NOT NULL,
              began_ms BIGINT NOT NULL, ended_ms BIGINT NULL)
            """);
    }

    bool TableExists(DbConnection c, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = journal.IsPostgres
            ? "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @table"
            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @table";
        Add(cmd, "@table", table);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>Notes that <paramref name="run"/> began (again, after a resume: its first start is kept, its end cleared).</summary>
    public void Began(string run, string name, string stage, string runDir, string settingsJson, DateTimeOffset at)
    {
        using var c = Open();
        Execute(c, null, $"""
            INSERT INTO {RunsTable} (run, name, stage, run_dir, settings, began_ms, ended_ms) VALUES (@run, @name, @stage, @dir, @settings, @at, NULL)
            ON CONFLICT (run) DO UPDATE SET name = excluded.name, stage = excluded.stage, run_dir = excluded.run_dir, settings = excluded.settings, ended_ms = NULL
            """, ("@run", run), ("@name", name), ("@stage", stage), ("@dir", runDir), ("@settings", settingsJson), ("@at", at.ToUnixTimeMilliseconds()));
    }

    /// <summary>Notes that <paramref name="run"/> ended (completed, stopped or failed).</summary>
    public void Ended(string run, DateTimeOffset at)
    {
        using var c = Open();
        Execute(c, null, $"UPDATE {RunsTable} SET ended_ms = @at WHERE run = @run", ("@run", run), ("@at", at.ToUnixTimeMilliseconds()));
    }

    static int Execute(DbConnection c, DbTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) Add(cmd, name, value);
        return cmd.ExecuteNonQuery();
    }

    static DbParameter Add(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
        return p;
    }

    /// <summary>Drops <paramref name="run"/>'s rows past <paramref name="afterStep"/> (a run resumed from that step redoes
    /// them) and recomputes the rollups they touched.</summary>
    public void Truncate(string run, long afterStep)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        Execute(c, tx, $"DELETE FROM {Table} WHERE run = @run AND step > @after", ("@run", run), ("@after", afterStep));
        Execute(c, tx, $"DELETE FROM {EvalTable} WHERE run = @run AND step > @after", ("@run", run), ("@after", afterStep));
        Execute(c, tx, $"DELETE FROM {RlTable} WHERE run = @run AND step > @after", ("@run", run), ("@after", afterStep));
        foreach (var every in RollupEvery)
            foreach (var table in new[] { RollupTable, RlRollupTable })
                Execute(c, tx, $"DELETE FROM {table} WHERE run = @run AND every = @every AND bucket >= @b",
                    ("@run", run), ("@every", every), ("@b", afterStep / every));
        if (afterStep > 0) Rollup(c, tx, run, afterStep, afterStep);
        tx.Commit();
    }

    /// <summary>Writes <paramref name="rows"/> and <paramref name="evals"/> of <paramref name="run"/> in one transaction (a
    /// step already there is replaced), then recomputes the rollup buckets the rows fall in.</summary>
    public void Upsert(string run, IReadOnlyList<MetricsRow> rows, IReadOnlyList<EvalRow>? evals = null)
    {
        if (rows.Count == 0 && (evals is null || evals.Count == 0)) return;
        using var c = Open();
        using var tx = c.BeginTransaction();
        foreach (var e in evals ?? [])
            Execute(c, tx, $"""
                INSERT INTO {EvalTable} (run, step, loss, perplexity, tokens, wall_time_ms) VALUES (@run, @step, @loss, @ppl, @tokens, @wall)
                ON CONFLICT (run, step) DO UPDATE SET loss = excluded.loss, perplexity = excluded.perplexity, tokens = excluded.tokens, wall_time_ms = excluded.wall_time_ms
                """, ("@run", run), ("@step", e.Step), ("@loss", Real(e.Loss)), ("@ppl", Real(e.Perplexity)), ("@tokens", e.Tokens), ("@wall", e.WallTimeMs));
        if (rows.Count == 0)
        {
            tx.Commit();
            return;
        }
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            var names = string.Join(", ", Columns);
            var values = string.Join(", ", Columns.Select(n => "@" + n));
            var updates = string.Join(", ", Columns.Select(n => $"{n} = excluded.{n}"));
            cmd.CommandText = $"INSERT INTO {Table} (run, step, {names}) VALUES (@run, @step, {values}) ON CONFLICT (run, step) DO UPDATE SET {updates}";
            Add(cmd, "@run", run);
            var step = Add(cmd, "@step", 0L);
            object[] typed = [0, 0.0, 0.0, 0.0, 0L, 0.0, 0.0, 0.0, 0.0, 0L, 0L];   // Npgsql prepares a statement with these types
            var p = Columns.Select((n, i) => Add(cmd, "@" + n, typed[i])).ToArray();
            cmd.Prepare();
            foreach (var r in rows)
            {
                step.Value = r.Step;
                p[0].Value = r.Epoch; p[1].Value = r.Loss; p[2].Value = r.Lr; p[3].Value = r.GradNorm; p[4].Value = r.LossTokens;
                p[5].Value = r.TokensPerSecond; p[6].Value = r.LossTokensPerSecond; p[7].Value = r.StepSeconds; p[8].Value = r.ComputeSeconds;
                p[9].Value = r.RssBytes; p[10].Value = r.WallTimeMs;
                cmd.ExecuteNonQuery();
            }
        }
        UpsertRl(c, tx, run, rows);
        Rollup(c, tx, run, rows.Min(r => r.Step), rows.Max(r => r.Step));
        tx.Commit();
    }

    /// <summary>A NaN as NULL (SQLite cannot store one; read back as NaN).</summary>
    static object Real(double v) => double.IsNaN(v) ? DBNull.Value : v;

    /// <summary>The RL measurements of those of <paramref name="rows"/> that have them; a redone step's row without them
    /// (it cannot happen within one run: the stage is fixed) would keep none.</summary>
    static void UpsertRl(DbConnection c, DbTransaction tx, string run, IReadOnlyList<MetricsRow> rows)
    {
        Execute(c, tx, $"DELETE FROM {RlTable} WHERE run = @run AND step >= @from AND step <= @to",
            ("@run", run), ("@from", rows.Min(r => r.Step)), ("@to", rows.Max(r => r.Step)));
        if (!rows.Any(r => r.Rl is not null)) return;
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = $"INSERT INTO {RlTable} (run, step, {string.Join(", ", RlColumns)}) VALUES (@run, @step, {string.Join(", ", RlColumns.Select(n => "@" + n))})";
        Add(cmd, "@run", run);
        var step = Add(cmd, "@step", 0L);
        object[] typed = [0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        var p = RlColumns.Select((n, i) => Add(cmd, "@" + n, typed[i])).ToArray();
        cmd.Prepare();
        foreach (var r in rows)
        {
            if (r.Rl is not { } m) continue;
            step.Value = r.Step;
            p[0].Value = m.Completions; p[1].Value = m.RewardSum; p[2].Value = m.RewardSquares; p[3].Value = m.Tokens;
            p[4].Value = m.KlSum; p[5].Value = m.ClipSum; p[6].Value = m.RolloutSeconds; p[7].Value = m.RewardSeconds;
            cmd.ExecuteNonQuery();
        }
    }
}
