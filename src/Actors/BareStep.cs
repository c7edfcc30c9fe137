using MiniMind.Actors.Stages;
using MiniMind.Model;
using static TorchSharp.torch;

namespace MiniMind.Actors;

/// <summary>The actors' optimizer step on one thread, without actors: each micro-batch's gradient from
/// <see cref="GradientStep.Backward"/>, summed in <see cref="MicroReduction"/>'s tree (<see cref="TreeSum"/>, as the
/// <see cref="GradientAggregator"/> does), then <see cref="GradientStep.Apply"/>. The bench's bare loop and the tests
/// that check the pipeline against it run this; training never does.</summary>
public static class BareStep
{
    /// <summary>One step over <paramref name="micro"/> at <paramref name="lr"/>: the mean micro-batch loss (as the aggregator
    /// reports it), the pre-clip grad norm and the loss tokens.</summary>
    public static (double Loss, double GradNorm, long Tokens) Run(StageObjective objective, MiniMindForCausalLM model, GradientStep step,
        IReadOnlyList<DataLoader.MicroBatch> micro, double lr, Device device)
    {
        var a = micro.Count;
        var sum = new TreeSum(a);
        double loss = 0;
        long tokens = 0;
        for (var m = 0; m < a; m++)
        {
            var gradient = GC.AllocateUninitializedArray<float>(step.Length);
            var mb = micro[m];
            loss += step.Backward(model, () => objective.Loss(model, mb, a, device), gradient) * a;
            tokens += mb.Tokens;
            sum.Add(m, 1, gradient);
        }
        var norm = step.Apply(sum.Result!, lr, gradsHoldIt: a == 1);   // as the worker: one micro-batch, the grads hold it
        return (loss / a, norm, tokens);
    }
}
