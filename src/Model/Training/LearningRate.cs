namespace MiniMind.Model;

/// <summary>MiniMind's LR schedule (trainer get_lr): lr/10 + 0.5·lr·(1 + cos(π·step/total)), from 1.1·lr down to
/// 0.1·lr.</summary>
public static class LearningRate
{
    /// <summary>lr/10 + 0.5·lr·(1 + cos(π·step/total)): starts at 1.1·lr (not lr) and ends at 0.1·lr.</summary>
    public static double MiniMindCosine(long step, long totalSteps, double lr) =>
        lr / 10 + 0.5 * lr * (1 + Math.Cos(Math.PI * step / totalSteps));
}
