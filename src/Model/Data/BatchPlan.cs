namespace MiniMind.Model.Data;

/// <summary>
/// Which samples make up each micro-batch, as a pure function of (seed, epoch, step, micro-batch, batch size,
/// accumulation steps, dataset size): the epoch order is <see cref="SampleOrder.Permutation"/>, and micro-batch m of
/// an epoch is positions [m·B, min((m+1)·B, Count)) of it (the last one may be short, like MiniMind's DataLoader
/// with drop_last=False). Optimizer step s of an epoch consumes micro-batches s·A … s·A + A − 1, so any batch can be
/// rebuilt on resume, or on another worker, without replaying the ones before it. Thread-safe.
/// </summary>
public sealed class BatchPlan
{
    readonly object _gate = new();
    (int Epoch, long[] Order)? _cached;

    public BatchPlan(long count, int batchSize, int accumulationSteps = 1, ulong seed = 42, bool shuffle = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(accumulationSteps);
        Count = count;
        BatchSize = batchSize;
        AccumulationSteps = accumulationSteps;
        Seed = seed;
        Shuffle = shuffle;
    }

    public long Count { get; }
    public int BatchSize { get; }
    public int AccumulationSteps { get; }
    public ulong Seed { get; }
    public bool Shuffle { get; }

    /// <summary>Micro-batches per epoch: ceil(Count / BatchSize).</summary>
    public long MicroBatchesPerEpoch => (Count + BatchSize - 1) / BatchSize;

    /// <summary>Optimizer steps per epoch: ceil(micro-batches / AccumulationSteps) (the last may have fewer micro-batches).</summary>
    public long StepsPerEpoch => (MicroBatchesPerEpoch + AccumulationSteps - 1) / AccumulationSteps;

    /// <summary>Sample indices of micro-batch <paramref name="microBatch"/> (0-based, within <paramref name="epoch"/>).</summary>
    public long[] MicroBatch(int epoch, long microBatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(microBatch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(microBatch, MicroBatchesPerEpoch);
        var order = Order(epoch);
        var start = microBatch * BatchSize;
        var end = Math.Min(start + BatchSize, Count);
        return order[(int)start..(int)end];
    }

    /// <summary>Sample indices of micro-batch <paramref name="microIndex"/> (0 ≤ it &lt; AccumulationSteps) of optimizer
    /// step <paramref name="step"/> within <paramref name="epoch"/>; empty if the epoch ran out before it.</summary>
    public long[] Batch(int epoch, long step, int microIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(microIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(microIndex, AccumulationSteps);
        var micro = step * AccumulationSteps + microIndex;
        return micro < MicroBatchesPerEpoch ? MicroBatch(epoch, micro) : [];
    }

    /// <summary>Every micro-batch of an epoch, in order (what a sequential loader yields).</summary>
    public IEnumerable<long[]> Epoch(int epoch)
    {
        for (long m = 0; m < MicroBatchesPerEpoch; m++) yield return MicroBatch(epoch, m);
    }

    long[] Order(int epoch)
    {
        lock (_gate)
        {
            if (_cached is { } c && c.Epoch == epoch) return c.Order;
            var order = SampleOrder.Permutation(Count, Seed, epoch, Shuffle);
            _cached = (epoch, order);
            return order;
        }
    }
}
