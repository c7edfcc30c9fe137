using Akka.Actor;
using MiniMind.Model.Data;

namespace MiniMind.Actors;

/// <summary>Serves the micro-batches of an optimizer step, addressed by step alone (epoch, position and micro-index
/// follow from the <see cref="TrainingPlan"/>), as plain arrays: no tensors cross actors. Stateless apart from a cache of
/// the current epoch's permutation, so a restart loses nothing.</summary>
public sealed class DataLoader : ReceiveActor
{
    /// <summary>Rows × SeqLen ids and loss weights (0/1; reason data: 0/1/10), row-major; <paramref name="Samples"/> are
    /// the dataset indices. A DPO row is a pair, chosen then rejected side by side (<see cref="Stages.DpoPairDataset"/>).</summary>
    public sealed record MicroBatch(int Rows, int SeqLen, int[] X, int[] Y, float[] Mask, long[] Samples)
    {
        /// <summary>The loss denominator when it is not Σ Mask (reason data: Σ of the rows' <see cref="TrainingSample.LossNormalizer"/>).</summary>
        public float? LossNormalizer { get; init; }

        public long Tokens => (long)(LossNormalizer ?? Mask.Sum());
    }

    /// <summary>Asks for all micro-batches of optimizer step <paramref name="Step"/> (0-based).</summary>
    public sealed record FetchStepBatches(long Step);

    public sealed record StepBatches(long Step, IReadOnlyList<MicroBatch> Micro);

    readonly ITokenizedDataset dataset;
    readonly TrainingPlan plan;
    readonly ulong seed;
    int cachedEpoch = -1;
    long[] order = [];

    public DataLoader(ITokenizedDataset dataset, TrainingPlan plan, ulong seed)
    {
        this.dataset = dataset;
        this.plan = plan;
        this.seed = seed;
        Receive<FetchStepBatches>(f => Sender.Tell(Build(f.Step)));
    }

    public static Props Props(ITokenizedDataset dataset, TrainingPlan plan, ulong seed) =>
        Akka.Actor.Props.Create(() => new DataLoader(dataset, plan, seed));

    StepBatches Build(long step)
    {
        var epoch = plan.EpochOf(step);
        if (epoch != cachedEpoch)
        {
            order = SampleOrder.Permutation(dataset.Count, seed, epoch);
            cachedEpoch = epoch;
        }
        return Build(dataset, plan, order, step);
    }

    /// <summary>The micro-batches of <paramref name="step"/>, given its epoch's permutation <paramref name="order"/>.</summary>
    public static StepBatches Build(ITokenizedDataset dataset, TrainingPlan plan, long[] order, long step)
    {
        var micro = new MicroBatch[plan.AccumulationSteps];
        var t = dataset.SeqLen;
        for (var m = 0; m < micro.Length; m++)
        {
            var rows = plan.BatchSize;
            var (x, y, mask, samples) = (new int[rows * t], new int[rows * t], new float[rows * t], new long[rows]);
            float? normalizer = 0;
            for (var r = 0; r < rows; r++)
            {
                samples[r] = order[plan.PositionOf(step, m, r)];
                var s = dataset.Get(samples[r]);
                s.X.CopyTo(x, r * t);
                s.Y.CopyTo(y, r * t);
                s.LossMask.CopyTo(mask, r * t);
                normalizer = s.LossNormalizer is { } n ? normalizer + n : null;
            }
            micro[m] = new MicroBatch(rows, t, x, y, mask, samples) { LossNormalizer = normalizer };
        }
        return new StepBatches(step, micro);
    }
}
