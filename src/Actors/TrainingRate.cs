namespace MiniMind.Actors;

/// <summary>The one throughput of a run (issue 11): tokens/s = input positions processed (B·A·T, <see cref="InputPositionsPerStep"/>)
/// per second of step wall time; the run manager computes it from the coordinator's progress reports and publishes it
/// with them (<see cref="RunRates"/>), so the train log line, <c>ctl train status</c>, /metrics and the dashboard show
/// the same number. Throughput and ETA over a moving window of the last <see cref="Window"/>
/// progress reports. The window's first mark is the end of the first step reported after a (re)start, so that step's
/// warm-up (JIT, allocator, data preparation) is never in it: until a second report arrives the rate is unknown (null)
/// rather than wrong. Pure: <see cref="Add"/> returns a new value.</summary>
public sealed record TrainingRate
{
    /// <summary>Step counts and elapsed times of the reports in the window, oldest first (at most <see cref="Window"/> + 1).</summary>
    public IReadOnlyList<(long Step, TimeSpan At)> Marks { get; private init; } = [];

    /// <summary>Intervals between reports the rate is averaged over. Default 10.</summary>
    public int Window { get; init; } = 10;

    /// <summary>Records that <paramref name="step"/> steps were done at <paramref name="at"/> (a report).</summary>
    public TrainingRate Add(long step, TimeSpan at) =>
        this with { Marks = [.. Marks.Skip(Math.Max(0, Marks.Count - Window)), (step, at)] };

    /// <summary>Optimizer steps per second over the window, or null before two reports (or if no time passed).</summary>
    public double? StepsPerSecond
    {
        get
        {
            if (Marks.Count < 2) return null;
            var (first, last) = (Marks[0], Marks[^1]);
            var seconds = (last.At - first.At).TotalSeconds;
            return seconds > 0 && last.Step > first.Step ? (last.Step - first.Step) / seconds : null;
        }
    }

    public double? TokensPerSecond(long tokensPerStep) => StepsPerSecond * tokensPerStep;

    /// <summary>Time left for the steps after the newest report, at the window's rate.</summary>
    public TimeSpan? Eta(long totalSteps) =>
        StepsPerSecond is { } rate && Marks.Count > 0 ? TimeSpan.FromSeconds(Math.Max(0, totalSteps - Marks[^1].Step) / rate) : null;

    /// <summary>Input positions one optimizer step processes: batch × accumulation × (max_seq_len − 1), both sequences of
    /// a DPO pair.</summary>
    public static long InputPositionsPerStep(TrainingSettings s) =>
        (long)s.BatchSize * s.AccumulationSteps * (s.MaxSeqLen - 1) * (s.Stage == Stages.TrainingStage.Dpo.Name ? 2 : 1);
}

/// <summary>A run's rates at a progress report: input tokens/s (B·A·T per second of step wall time), loss tokens/s (the
/// non-pad target tokens the loss counts, per second), and the ETA; null while unknown (before a second report).</summary>
public sealed record RunRates(double? TokensPerSecond, double? LossTokensPerSecond, TimeSpan? Eta)
{
    public static RunRates Unknown { get; } = new(null, null, null);

    public static RunRates Of(TrainingRate rate, long inputPositionsPerStep, long lossTokensPerStep, long totalSteps) =>
        new(rate.TokensPerSecond(inputPositionsPerStep), rate.TokensPerSecond(lossTokensPerStep), rate.Eta(totalSteps));
}
