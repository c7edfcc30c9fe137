using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>RL measurements add up over micro-batches exactly: the step's mean, std, KL and lengths are those of all
/// its completions together, whichever workers computed them.</summary>
public class RlMetricsTests
{
    static RlMetrics Of(float[] rewards, double tokens, double klSum, double clipped, double rollout) =>
        new(rewards.Length, rewards.Sum(r => (double)r), rewards.Sum(r => (double)r * r), tokens, klSum, clipped, rollout, 0.5);

    [Fact]
    public void Micro_batches_sum_to_the_step_s_statistics()
    {
        var a = Of([1f, 2f, 3f], tokens: 30, klSum: 0.3, clipped: 3, rollout: 1);
        var b = Of([5f, -1f, 2f], tokens: 10, klSum: 0.5, clipped: 1, rollout: 2);
        var step = RlMetrics.Sum([a, null, b])!;
        float[] all = [1f, 2f, 3f, 5f, -1f, 2f];
        var mean = all.Average(x => (double)x);
        Assert.Equal(mean, step.RewardMean, 12);
        Assert.Equal(Math.Sqrt(all.Average(x => (x - mean) * (x - mean))), step.RewardStd, 12);
        Assert.Equal(0.8 / 40, step.Kl, 12);
        Assert.Equal(40.0 / 6, step.CompletionLength, 12);
        Assert.Equal(4.0 / 40, step.ClipFraction, 12);
        Assert.Equal((3.0, 1.0), (step.RolloutSeconds, step.RewardSeconds));
        Assert.Null(RlMetrics.Sum([null, null]));
        Assert.Equal("reward 2.000±1.826 | kl 0.0200 | len 6.7 | clip 0.100 | rollout 3.00 s | scoring 1.00 s", step.Describe());
    }
}
