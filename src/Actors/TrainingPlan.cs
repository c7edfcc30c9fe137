namespace MiniMind.Actors;

/// <summary>Where optimizer step <c>s</c> (0-based) takes its samples and its LR from: a pure function of the dataset
/// size and the settings, so resume needs only the step number.
/// Micro-batch m of step s in epoch e reads positions ((k·A + m)·B … +B) of <c>SampleOrder.Permutation(count, seed, e)</c>
/// with k = s mod stepsPerEpoch. An epoch's last partial step is dropped (MiniMind keeps it; we keep steps whole so
/// every step has exactly A micro-batches).</summary>
public sealed record TrainingPlan(long SampleCount, int BatchSize, int AccumulationSteps, int Epochs, long StepsPerEpoch, long TotalSteps, double PeakLr)
{
    public static TrainingPlan For(long sampleCount, TrainingSettings s)
    {
        var stepsPerEpoch = sampleCount / ((long)s.BatchSize * s.AccumulationSteps);
        if (stepsPerEpoch == 0)
            throw new InvalidDataException($"the dataset has {sampleCount} samples, fewer than one step needs (batch {s.BatchSize} × accumulation {s.AccumulationSteps})");
        var total = stepsPerEpoch * s.Epochs;
        if (s.MaxSteps > 0) total = Math.Min(total, s.MaxSteps);
        return new TrainingPlan(sampleCount, s.BatchSize, s.AccumulationSteps, s.Epochs, stepsPerEpoch, total, s.LearningRate);
    }

    public int EpochOf(long step) => (int)(step / StepsPerEpoch);

    /// <summary>Position in the epoch's permutation of row <paramref name="row"/> of micro-batch <paramref name="micro"/>.</summary>
    public long PositionOf(long step, int micro, int row) => ((step % StepsPerEpoch) * AccumulationSteps + micro) * BatchSize + row;

    /// <summary>The data cursor after step <paramref name="step"/> has run: samples of its epoch consumed so far.</summary>
    public long CursorAfter(long step) => ((step % StepsPerEpoch) + 1) * AccumulationSteps * BatchSize;

    /// <summary>MiniMind sets the LR every micro-iteration from get_lr(epoch·iters + it, epochs·iters, lr); the optimizer
    /// step uses the value of the step's last micro-iteration. Our horizon is TotalSteps·A iterations.</summary>
    public double LearningRateAt(long step) =>
        MiniMind.Model.LearningRate.MiniMindCosine(step * AccumulationSteps + AccumulationSteps - 1, TotalSteps * AccumulationSteps, PeakLr);
}
