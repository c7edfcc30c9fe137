using System.Globalization;

namespace MiniMind.Actors;

/// <summary>What the RL stage measured in one micro-batch or (summed) one step, as sums so that micro-batches computed
/// on different workers add up exactly: completions and their rewards (Σ r, Σ r²), completion tokens (the mask's),
/// Σ k3 KL and Σ clipped over those tokens, and the wall time of rollouts and of scoring. Travels with
/// <see cref="GradientAggregator.MicroBatchDone"/> to the step's report, the log line, /metrics and TensorBoard.</summary>
public sealed record RlMetrics(int Completions, double RewardSum, double RewardSquares, double Tokens, double KlSum, double ClipSum,
    double RolloutSeconds, double RewardSeconds)
{
    public double RewardMean => Completions == 0 ? 0 : RewardSum / Completions;

    /// <summary>Population standard deviation of the step's rewards.</summary>
    public double RewardStd => Completions == 0 ? 0 : Math.Sqrt(Math.Max(0, RewardSquares / Completions - RewardMean * RewardMean));

    /// <summary>Mean k3 KL to the reference per completion token.</summary>
    public double Kl => Tokens == 0 ? 0 : KlSum / Tokens;

    /// <summary>Mean completion length in tokens (to the first EOS).</summary>
    public double CompletionLength => Completions == 0 ? 0 : Tokens / Completions;

    /// <summary>Share of completion tokens whose ratio the loss clipped.</summary>
    public double ClipFraction => Tokens == 0 ? 0 : ClipSum / Tokens;

    /// <summary>Completion tokens per second of rollout time (summed over the workers that rolled out).</summary>
    public double RolloutTokensPerSecond => RolloutSeconds <= 0 ? 0 : Tokens / RolloutSeconds;

    public RlMetrics Add(RlMetrics other) => new(Completions + other.Completions, RewardSum + other.RewardSum, RewardSquares + other.RewardSquares,
        Tokens + other.Tokens, KlSum + other.KlSum, ClipSum + other.ClipSum, RolloutSeconds + other.RolloutSeconds, RewardSeconds + other.RewardSeconds);

    /// <summary>The sum of <paramref name="parts"/> that have metrics, or null when none has.</summary>
    public static RlMetrics? Sum(IEnumerable<RlMetrics?> parts) =>
        parts.OfType<RlMetrics>().Aggregate((RlMetrics?)null, (a, b) => a is null ? b : a.Add(b));

    /// <summary>The log line's part: <c>reward 0.412±0.830 | kl 0.0031 | len 17.5 | clip 0.000 | rollout 1.23 s | reward 0.01 s</c>.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"reward {RewardMean:0.000}±{RewardStd:0.000} | kl {Kl:0.0000} | len {CompletionLength:0.0} | clip {ClipFraction:0.000} | rollout {RolloutSeconds:0.00} s | scoring {RewardSeconds:0.00} s");

    /// <summary>(name, value) pairs for TensorBoard (<c>rl/&lt;name&gt;</c>) and /metrics (<c>minimind_rl_&lt;name&gt;</c>).</summary>
    public IEnumerable<(string Name, double Value)> Values() =>
    [
        ("reward_mean", RewardMean), ("reward_std", RewardStd), ("kl", Kl), ("completion_length", CompletionLength),
        ("clip_fraction", ClipFraction), ("rollout_seconds", RolloutSeconds), ("reward_seconds", RewardSeconds),
        ("rollout_tokens_per_second", RolloutTokensPerSecond),
    ];
}
