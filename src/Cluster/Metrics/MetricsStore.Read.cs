using System.Data.Common;
using System.Globalization;
using MiniMind.Actors;

namespace MiniMind.Cluster.Metrics;

// MetricsStore's reads: the run list, a run's rows, evaluations and curves (raw or from the rollups).
public sealed partial class MetricsStore
{
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

    /// <summary>The <c>@run</c>, <c>@from</c> and <c>@to</c> of a query over one run's steps in a range.</summary>
    static void AddStepRange(DbCommand cmd, string run, long from, long to)
    {
        Add(cmd, "@run", run);
        Add(cmd, "@from", from);
        Add(cmd, "@to", to);
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
