using System.Data.Common;

namespace MiniMind.Cluster.Metrics;

// MetricsStore's rollups: recomputing the buckets a write or a rewind touched.
public sealed partial class MetricsStore
{
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
}
