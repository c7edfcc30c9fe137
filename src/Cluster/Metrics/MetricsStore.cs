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
/// </list>
/// Size policy: raw rows are kept (about 150 bytes a step: a million steps ≈ 150 MB); a curve over a long run reads
/// the 10,000-step view (100 rows for a million steps) or the 100-step one (10,000 rows), and the raw rows of the range it zooms into.
/// </summary>
public sealed class MetricsStore
{
    public const string Table = "minimind_metrics";
    public const string RollupTable = "minimind_metrics_rollup";
    /// <summary>The rollup bucket sizes, in steps.</summary>
    public static readonly IReadOnlyList<int> RollupEvery = [100, 10_000];

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
        foreach (var every in RollupEvery)
            Execute(c, tx, $"DELETE FROM {RollupTable} WHERE run = @run AND every = @every AND bucket >= @b",
                ("@run", run), ("@every", every), ("@b", afterStep / every));
        if (afterStep > 0) Rollup(c, tx, run, afterStep, afterStep);
        tx.Commit();
    }

    /// <summary>Writes <paramref name="rows"/> of <paramref name="run"/> in one transaction (a step already there is
    /// replaced), then recomputes the rollup buckets they fall in.</summary>
    public void Upsert(string run, IReadOnlyList<MetricsRow> rows)
    {
        if (rows.Count == 0) return;
        using var c = Open();
        using var tx = c.BeginTransaction();
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
        Rollup(c, tx, run, rows.Min(r => r.Step), rows.Max(r => r.Step));
        tx.Commit();
    }

    /// <summary>Recomputes every rollup bucket that holds a step in [<paramref name="from"/>, <paramref name="to"/>]: the
    /// 100-step buckets from the raw rows (at most 100 each), the 10,000-step ones from the 100-step buckets (at most 100
    /// each, means weighted by count), so a write costs the same at step 10 and at step 999,999.</summary>
    void Rollup(DbConnection c, DbTransaction tx, string run, long from, long to)
    {
        var real = journal.IsPostgres ? "DOUBLE PRECISION" : "REAL";
        const string columns = "run, every, bucket, count, loss_min, loss_mean, loss_max, lr_mean, grad_norm_min, grad_norm_mean, grad_norm_max, " +
                               "tokens_per_second_mean, step_seconds_min, step_seconds_mean, step_seconds_max, rss_bytes_max";
        const string upsert = """
            ON CONFLICT (run, every, bucket) DO UPDATE SET count = excluded.count, loss_min = excluded.loss_min,
              loss_mean = excluded.loss_mean, loss_max = excluded.loss_max, lr_mean = excluded.lr_mean, grad_norm_min = excluded.grad_norm_min,
              grad_norm_mean = excluded.grad_norm_mean, grad_norm_max = excluded.grad_norm_max,
              tokens_per_second_mean = excluded.tokens_per_second_mean, step_seconds_min = excluded.step_seconds_min,
              step_seconds_mean = excluded.step_seconds_mean, step_seconds_max = excluded.step_seconds_max, rss_bytes_max = excluded.rss_bytes_max
            """;
        var fine = RollupEvery[0];
        var (lo, hi) = ((from - 1) / fine, (to - 1) / fine);
        Execute(c, tx, $"""
            INSERT INTO {RollupTable} ({columns})
            SELECT run, @every, (step - 1) / @every, COUNT(*), MIN(loss), AVG(loss), MAX(loss), AVG(lr), MIN(grad_norm), AVG(grad_norm),
              MAX(grad_norm), AVG(tokens_per_second), MIN(step_seconds), AVG(step_seconds), MAX(step_seconds), MAX(rss_bytes)
            FROM {Table} WHERE run = @run AND step > @lo * @every AND step <= (@hi + 1) * @every
            GROUP BY run, 3
            {upsert}
            """, ("@run", run), ("@every", (long)fine), ("@lo", lo), ("@hi", hi));
        for (var level = 1; level < RollupEvery.Count; level++)
        {
            var (every, factor) = ((long)RollupEvery[level], (long)(RollupEvery[level] / RollupEvery[level - 1]));
            (lo, hi) = (lo / factor, hi / factor);
            string Mean(string column) => $"SUM({column} * count) / CAST(SUM(count) AS {real})";
            Execute(c, tx, $"""
                INSERT INTO {RollupTable} ({columns})
                SELECT run, @every, bucket / @factor, SUM(count), MIN(loss_min), {Mean("loss_mean")}, MAX(loss_max), {Mean("lr_mean")},
                  MIN(grad_norm_min), {Mean("grad_norm_mean")}, MAX(grad_norm_max), {Mean("tokens_per_second_mean")}, MIN(step_seconds_min),
                  {Mean("step_seconds_mean")}, MAX(step_seconds_max), MAX(rss_bytes_max)
                FROM {RollupTable} WHERE run = @run AND every = @finer AND bucket >= @lo * @factor AND bucket < (@hi + 1) * @factor
                GROUP BY run, 3
                {upsert}
                """, ("@run", run), ("@every", every), ("@factor", factor), ("@finer", (long)RollupEvery[level - 1]), ("@lo", lo), ("@hi", hi));
        }
    }

    /// <summary>The runs with a history whose persistence id ends with <paramref name="suffix"/> (a run dir's hash), oldest first.</summary>
    public IReadOnlyList<string> Runs(string suffix)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT run, MIN(wall_time_ms) FROM {Table} GROUP BY run ORDER BY 2, 1";
        using var r = cmd.ExecuteReader();
        var runs = new List<string>();
        while (r.Read())
        {
            var run = r.GetString(0);
            if (run.EndsWith(suffix, StringComparison.Ordinal)) runs.Add(run);
        }
        return runs;
    }

    /// <summary><paramref name="run"/>'s rows with <paramref name="from"/> ≤ step ≤ <paramref name="to"/>, by step.</summary>
    public IEnumerable<MetricsRow> Read(string run, long from = 1, long to = long.MaxValue)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT step, {string.Join(", ", Columns)} FROM {Table} WHERE run = @run AND step >= @from AND step <= @to ORDER BY step";
        Add(cmd, "@run", run);
        Add(cmd, "@from", from);
        Add(cmd, "@to", to);
        using var r = cmd.ExecuteReader();
        while (r.Read())
            yield return new MetricsRow(r.GetInt64(0), Convert.ToInt32(r.GetValue(1), CultureInfo.InvariantCulture), r.GetDouble(2), r.GetDouble(3),
                r.GetDouble(4), r.GetInt64(5), r.GetDouble(6), r.GetDouble(7), r.GetDouble(8), r.GetDouble(9), r.GetInt64(10), r.GetInt64(11));
    }

    /// <summary>The rollup rows of <paramref name="run"/> at bucket size <paramref name="every"/>: (bucket, count, loss min/mean/max).</summary>
    public IReadOnlyList<(long Bucket, long Count, double LossMin, double LossMean, double LossMax)> Rollups(string run, int every)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT bucket, count, loss_min, loss_mean, loss_max FROM {RollupTable} WHERE run = @run AND every = @every ORDER BY bucket";
        Add(cmd, "@run", run);
        Add(cmd, "@every", (long)every);
        using var r = cmd.ExecuteReader();
        var list = new List<(long, long, double, double, double)>();
        while (r.Read()) list.Add((r.GetInt64(0), r.GetInt64(1), r.GetDouble(2), r.GetDouble(3), r.GetDouble(4)));
        return list;
    }
}
