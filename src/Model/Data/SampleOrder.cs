namespace MiniMind.Model.Data;

/// <summary>The order in which an epoch visits the samples: a pure function of (seed, epoch, count). Training, resume
/// and every worker of a cluster derive the same permutation independently, so a batch is identified by
/// (seed, epoch, position) alone. Which positions each optimizer step reads is TrainingPlan's (src/Actors) to say.</summary>
public static class SampleOrder
{
    /// <summary>A Fisher–Yates shuffle of 0..count-1 driven by SplitMix64 seeded from (seed, epoch).
    /// <paramref name="shuffle"/> false gives the identity order (MiniMind's pretrain uses shuffle=True).</summary>
    public static long[] Permutation(long count, ulong seed, int epoch, bool shuffle = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var order = new long[count];
        for (long i = 0; i < count; i++) order[i] = i;
        if (!shuffle) return order;
        var state = seed ^ 0x9E3779B97F4A7C15UL * (ulong)(epoch + 1);
        for (var i = count - 1; i > 0; i--)
        {
            var j = (long)(Next(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
