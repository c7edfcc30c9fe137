namespace MiniMind.Cluster.Metrics;

/// <summary>A run as the metrics database knows it (the dashboard's run list). <paramref name="Settings"/>: the run's
/// <c>TrainingSettings</c> JSON (empty for a run recorded before the runs table). <paramref name="EndedMs"/>: null while
/// it runs (or when its process was killed).</summary>
public sealed record RecordedRun(string Run, string Name, string Stage, string RunDir, string Settings, long BeganMs, long? EndedMs, long NewestStep);

/// <summary>One point of a curve: a step (<paramref name="Count"/> = 1) or a bucket of consecutive steps
/// <paramref name="FirstStep"/>…<paramref name="Step"/> (means, with the loss's, grad norm's and step time's extremes).
/// <paramref name="Rl"/>: an RL run's measurements over those steps (sums, so a bucket's reward mean is over all its
/// completions, also in points read from the rollup views); null in the other stages.</summary>
public sealed record SeriesPoint(long FirstStep, long Step, long Count, double Loss, double LossMin, double LossMax, double Lr,
    double GradNorm, double GradNormMax, double TokensPerSecond, double LossTokensPerSecond, double StepSeconds, double StepSecondsMax,
    long RssBytes, long WallTimeMs, Actors.RlMetrics? Rl = null)
{
    public static SeriesPoint Of(Actors.MetricsRow r) => new(r.Step, r.Step, 1, r.Loss, r.Loss, r.Loss, r.Lr, r.GradNorm, r.GradNorm,
        r.TokensPerSecond, r.LossTokensPerSecond, r.StepSeconds, r.StepSeconds, r.RssBytes, r.WallTimeMs, r.Rl);
}

/// <summary>A curve read for the dashboard: <paramref name="Every"/> = 1 when <paramref name="Points"/> are the steps
/// themselves, else about how many steps each point stands for.</summary>
public sealed record MetricsSeries(string Run, long From, long To, long Steps, long Every, IReadOnlyList<SeriesPoint> Points);

/// <summary>Pure downsampling of a curve: consecutive points merged into at most <c>max</c> buckets of (nearly) equal
/// step counts; means weighted by count, extremes kept, so a spike inside a bucket still shows as its max.</summary>
public static class Downsample
{
    public static IReadOnlyList<SeriesPoint> Merge(IReadOnlyList<SeriesPoint> points, int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        if (points.Count <= max) return points;
        var total = points.Sum(p => p.Count);
        var perBucket = (double)total / max;
        var merged = new List<SeriesPoint>(max);
        var bucket = new List<SeriesPoint>();
        long seen = 0;
        foreach (var p in points)
        {
            bucket.Add(p);
            seen += p.Count;
            if (seen >= perBucket * (merged.Count + 1) - 1e-9)
            {
                merged.Add(Combine(bucket));
                bucket.Clear();
            }
        }
        if (bucket.Count > 0) merged.Add(Combine(bucket));
        return merged;
    }

    /// <summary>One point for consecutive points (weighted means; min, max; newest RSS and wall time).</summary>
    public static SeriesPoint Combine(IReadOnlyList<SeriesPoint> b)
    {
        if (b.Count == 1) return b[0];
        var n = (double)b.Sum(p => p.Count);
        double Mean(Func<SeriesPoint, double> f) => b.Sum(p => f(p) * p.Count) / n;
        return new SeriesPoint(b[0].FirstStep, b[^1].Step, (long)n, Mean(p => p.Loss), b.Min(p => p.LossMin), b.Max(p => p.LossMax), Mean(p => p.Lr),
            Mean(p => p.GradNorm), b.Max(p => p.GradNormMax), Mean(p => p.TokensPerSecond), Mean(p => p.LossTokensPerSecond), Mean(p => p.StepSeconds),
            b.Max(p => p.StepSecondsMax), b.Max(p => p.RssBytes), b[^1].WallTimeMs, Actors.RlMetrics.Sum(b.Select(p => p.Rl)));
    }
}
