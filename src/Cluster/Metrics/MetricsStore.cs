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
/// </summary>
public sealed class MetricsStore
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

    /// <summary>The RL rollups of every run's RL rows (a database written before <see cref="RlRollupTable"/>).</summary>
    static void FillRlRollups(DbConnection c)
    {
        var runs = new List<(string Run, long From, long To)>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = $"SELECT run, MIN(step), MAX(step) FROM {RlTable} GROUP BY run";
            using var r = cmd.ExecuteReader();
            while (r.Read()) runs.Add((r.GetString(0), r.GetInt64(1), r.GetInt64(2)));
        }
        if (runs.Count == 0) return;
        using var tx = c.BeginTransaction();
        foreach (var (run, from, to) in runs) RollupRl(c, tx, run, from, to);
        tx.Commit();
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

    /// <summary>Every run of the database with a history or a <see cref="Began"/> record, oldest first: what is known of
    /// it (name, stage, run dir, settings: empty for a run recorded before the runs table) and its newest step.</summary>
    public IReadOnlyList<RecordedRun> AllRuns()
    {
        using var c = Open();
        var runs = new Dictionary<string, RecordedRun>(StringComparer.Ordinal);
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = $"SELECT run, name, stage, run_dir, settings, began_ms, ended_ms FROM {RunsTable}";
            using var r = cmd.ExecuteReader();
            while (r.Read())
                runs[r.GetString(0)] = new RecordedRun(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
                    r.GetInt64(5), r.IsDBNull(6) ? null : r.GetInt64(6), 0);
        }
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = $"SELECT run, MAX(step), MIN(wall_time_ms) FROM {Table} GROUP BY run";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var (run, newest, first) = (r.GetString(0), r.GetInt64(1), r.GetInt64(2));
                runs[run] = runs.TryGetValue(run, out var known) ? known with { NewestStep = newest }
                    : new RecordedRun(run, run, "", "", "", first, null, newest);
            }
        }
        return [.. runs.Values.OrderBy(r => r.BeganMs).ThenBy(r => r.Run, StringComparer.Ordinal)];
    }

    /// <summary>At most this many raw rows are read for one curve; a longer range is drawn from the rollups.</summary>
    public const int RawLimit = 200_000;

    /// <summary><paramref name="run"/>'s curve over [<paramref name="from"/>, <paramref name="to"/>] in at most
    /// <paramref name="max"/> points: the steps themselves when they fit (a zoom gets per-step resolution), else buckets
    /// merged from the raw rows (up to <paramref name="rawLimit"/> of them) or from the finest rollup that keeps the read under
    /// that (a million-step run: 10,000 rows of the 100-step view).</summary>
    public MetricsSeries Series(string run, long from, long to, int max, int rawLimit = RawLimit)
    {
        var n = Count(run, from, to);
        if (n <= rawLimit)
        {
            var raw = Read(run, from, to).Select(SeriesPoint.Of).ToList();
            return new MetricsSeries(run, from, to, n, n <= max ? 1 : (long)Math.Ceiling((double)n / max), Downsample.Merge(raw, max));
        }
        var every = RollupEvery.FirstOrDefault(e => n / e <= rawLimit, RollupEvery[^1]);
        return new MetricsSeries(run, from, to, n, Math.Max(every, (long)Math.Ceiling((double)n / max)), Downsample.Merge(RollupPoints(run, every, from, to), max));
    }

    /// <summary>The number of <paramref name="run"/>'s rows with <paramref name="from"/> ≤ step ≤ <paramref name="to"/>.</summary>
    public long Count(string run, long from = 1, long to = long.MaxValue)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT COUNT(*) FROM {Table} WHERE run = @run AND step >= @from AND step <= @to";
        AddStepRange(cmd, run, from, to);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    /// <summary>The rollup buckets of <paramref name="run"/> at size <paramref name="every"/> that overlap
    /// [<paramref name="from"/>, <paramref name="to"/>], as series points (step = the bucket's last step), with the
    /// bucket's RL sums where the run has them.</summary>
    public IReadOnlyList<SeriesPoint> RollupPoints(string run, int every, long from = 1, long to = long.MaxValue)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"""
            SELECT m.bucket, m.count, m.loss_min, m.loss_mean, m.loss_max, m.lr_mean, m.grad_norm_mean, m.grad_norm_max, m.tokens_per_second_mean,
              m.step_seconds_mean, m.step_seconds_max, m.rss_bytes_max, {string.Join(", ", RlColumns.Select(n => "rl." + n))}
            FROM {RollupTable} m LEFT JOIN {RlRollupTable} rl ON rl.run = m.run AND rl.every = m.every AND rl.bucket = m.bucket
            WHERE m.run = @run AND m.every = @every AND m.bucket >= @lo AND m.bucket <= @hi ORDER BY m.bucket
            """;
        Add(cmd, "@run", run);
        Add(cmd, "@every", (long)every);
        Add(cmd, "@lo", (Math.Max(1, from) - 1) / every);
        Add(cmd, "@hi", to == long.MaxValue ? long.MaxValue : (to - 1) / every);
        using var r = cmd.ExecuteReader();
        var list = new List<SeriesPoint>();
        while (r.Read())
        {
            var bucket = r.GetInt64(0);
            var count = r.GetInt64(1);
            list.Add(new SeriesPoint(bucket * every + 1, bucket * every + count, count, r.GetDouble(3), r.GetDouble(2), r.GetDouble(4), r.GetDouble(5),
                r.GetDouble(6), r.GetDouble(7), r.GetDouble(8), 0, r.GetDouble(9), r.GetDouble(10), r.GetInt64(11), 0, ReadRl(r, 12)));
        }
        return list;
    }

    static int Execute(DbConnection c, DbTransaction? tx, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in args) Add(cmd, name, value);
        return cmd.ExecuteNonQuery();
    }

    /// <summary>The <c>@run</c>, <c>@from</c> and <c>@to</c> of a query over one run's steps in a range.</summary>
    static void AddStepRange(DbCommand cmd, string run, long from, long to)
    {
        Add(cmd, "@run", run);
        Add(cmd, "@from", from);
        Add(cmd, "@to", to);
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

    /// <summary>Recomputes every rollup bucket that holds a step in [<paramref name="from"/>, <paramref name="to"/>]: the
    /// 100-step buckets from the raw rows (at most 100 each), the 10,000-step ones from the 100-step buckets (at most 100
    /// each, means weighted by count), so a write costs the same at step 10 and at step 999,999; and the RL rollups of
    /// those buckets (<see cref="RollupRl"/>).</summary>
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
        foreach (var level in RollupLevels(from, to))
        {
            string Mean(string column) => $"SUM({column} * count) / CAST(SUM(count) AS {real})";
            Execute(c, tx, level.Finer == 0
                ? $"""
                  INSERT INTO {RollupTable} ({columns})
                  SELECT run, @every, (step - 1) / @every, COUNT(*), MIN(loss), AVG(loss), MAX(loss), AVG(lr), MIN(grad_norm), AVG(grad_norm),
                    MAX(grad_norm), AVG(tokens_per_second), MIN(step_seconds), AVG(step_seconds), MAX(step_seconds), MAX(rss_bytes)
                  FROM {Table} WHERE run = @run AND {level.Where}
                  GROUP BY run, 3
                  {upsert}
                  """
                : $"""
                  INSERT INTO {RollupTable} ({columns})
                  SELECT run, @every, bucket / @factor, SUM(count), MIN(loss_min), {Mean("loss_mean")}, MAX(loss_max), {Mean("lr_mean")},
                    MIN(grad_norm_min), {Mean("grad_norm_mean")}, MAX(grad_norm_max), {Mean("tokens_per_second_mean")}, MIN(step_seconds_min),
                    {Mean("step_seconds_mean")}, MAX(step_seconds_max), MAX(rss_bytes_max)
                  FROM {RollupTable} WHERE run = @run AND {level.Where}
                  GROUP BY run, 3
                  {upsert}
                  """, level.Args(run));
        }
        RollupRl(c, tx, run, from, to);
    }

    /// <summary>Recomputes the RL rollup buckets that hold a step in [<paramref name="from"/>, <paramref name="to"/>], as
    /// <see cref="Rollup"/> does the main ones: each bucket's sums of <see cref="RlColumns"/>, the 100-step buckets from
    /// the RL rows, the coarser ones from the finer buckets. A bucket left without RL rows is dropped.</summary>
    static void RollupRl(DbConnection c, DbTransaction tx, string run, long from, long to)
    {
        var sums = string.Join(", ", RlColumns.Select(n => $"SUM({n})"));
        foreach (var level in RollupLevels(from, to))
            Execute(c, tx, $"""
                DELETE FROM {RlRollupTable} WHERE run = @run AND every = @every AND bucket >= @lo AND bucket <= @hi;
                INSERT INTO {RlRollupTable} (run, every, bucket, {string.Join(", ", RlColumns)})
                SELECT run, @every, {(level.Finer == 0 ? "(step - 1) / @every" : "bucket / @factor")}, {sums}
                FROM {(level.Finer == 0 ? RlTable : RlRollupTable)} WHERE run = @run AND {level.Where}
                GROUP BY run, 3
                """, level.Args(run));
    }

    /// <summary>One rollup level's recomputation: its bucket size, the finer level it is computed from (0: the raw rows)
    /// and its buckets <paramref name="Lo"/>…<paramref name="Hi"/>.</summary>
    readonly record struct RollupLevel(long Every, long Finer, long Lo, long Hi)
    {
        long Factor => Finer == 0 ? 1 : Every / Finer;

        /// <summary>The source rows of buckets Lo…Hi: raw steps, or the finer level's buckets.</summary>
        public string Where => Finer == 0
            ? "step > @lo * @every AND step <= (@hi + 1) * @every"
            : "every = @finer AND bucket >= @lo * @factor AND bucket < (@hi + 1) * @factor";

        public (string Name, object Value)[] Args(string run) => Finer == 0
            ? [("@run", run), ("@every", Every), ("@lo", Lo), ("@hi", Hi)]
            : [("@run", run), ("@every", Every), ("@factor", Factor), ("@finer", Finer), ("@lo", Lo), ("@hi", Hi)];
    }

    /// <summary>The levels of <see cref="RollupEvery"/>, finest first, with the buckets that hold a step in
    /// [<paramref name="from"/>, <paramref name="to"/>].</summary>
    static IEnumerable<RollupLevel> RollupLevels(long from, long to)
    {
        long finer = 0;
        foreach (var every in RollupEvery)
        {
            yield return new RollupLevel(every, finer, (from - 1) / every, (to - 1) / every);
            finer = every;
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

    /// <summary><paramref name="run"/>'s rows with <paramref name="from"/> ≤ step ≤ <paramref name="to"/>, by step, with
    /// their RL measurements where the step has them.</summary>
    public IEnumerable<MetricsRow> Read(string run, long from = 1, long to = long.MaxValue)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT m.step, {string.Join(", ", Columns.Select(n => "m." + n))}, {string.Join(", ", RlColumns.Select(n => "rl." + n))} " +
                          $"FROM {Table} m LEFT JOIN {RlTable} rl ON rl.run = m.run AND rl.step = m.step " +
                          "WHERE m.run = @run AND m.step >= @from AND m.step <= @to ORDER BY m.step";
        AddStepRange(cmd, run, from, to);
        using var r = cmd.ExecuteReader();
        while (r.Read())
            yield return new MetricsRow(r.GetInt64(0), Convert.ToInt32(r.GetValue(1), CultureInfo.InvariantCulture), r.GetDouble(2), r.GetDouble(3),
                r.GetDouble(4), r.GetInt64(5), r.GetDouble(6), r.GetDouble(7), r.GetDouble(8), r.GetDouble(9), r.GetInt64(10), r.GetInt64(11),
                ReadRl(r, 12));
    }

    /// <summary>The <see cref="RlColumns"/> from column <paramref name="at"/> on (a LEFT JOIN's: null where the step or
    /// bucket has none).</summary>
    static RlMetrics? ReadRl(DbDataReader r, int at) =>
        r.IsDBNull(at) ? null : new RlMetrics(Convert.ToInt32(r.GetValue(at), CultureInfo.InvariantCulture), r.GetDouble(at + 1),
            r.GetDouble(at + 2), r.GetDouble(at + 3), r.GetDouble(at + 4), r.GetDouble(at + 5), r.GetDouble(at + 6), r.GetDouble(at + 7));

    /// <summary><paramref name="run"/>'s held-out evaluations with <paramref name="from"/> ≤ step ≤ <paramref name="to"/>, by step.</summary>
    public IReadOnlyList<EvalRow> ReadEval(string run, long from = 1, long to = long.MaxValue)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT step, loss, perplexity, tokens, wall_time_ms FROM {EvalTable} WHERE run = @run AND step >= @from AND step <= @to ORDER BY step";
        AddStepRange(cmd, run, from, to);
        using var r = cmd.ExecuteReader();
        var list = new List<EvalRow>();
        static double Real(DbDataReader x, int i) => x.IsDBNull(i) ? double.NaN : x.GetDouble(i);   // SQLite keeps a NaN as NULL
        while (r.Read()) list.Add(new EvalRow(r.GetInt64(0), Real(r, 1), Real(r, 2), r.GetInt64(3), r.GetInt64(4)));
        return list;
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
