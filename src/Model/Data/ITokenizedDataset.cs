namespace MiniMind.Model.Data;

/// <summary>One training sample in MiniMind's trainer layout: inputs X = ids[:-1], targets Y = ids[1:], and the loss
/// weight of each target (0/1, or MiniMind's reasoning weights), all of length <see cref="ITokenizedDataset.SeqLen"/>.</summary>
public sealed record TrainingSample(int[] X, int[] Y, float[] LossMask)
{
    /// <summary>The loss denominator when it is not the mask's sum: reason data's <see cref="ReasonLossMask.Normalizer"/>
    /// (the 0/1 mask's sum before the tag weights). Null: Σ LossMask.</summary>
    public float? LossNormalizer { get; init; }
}

/// <summary>A tokenized pretrain/SFT/reason set with random access: sample i is a pure function of the data and i,
/// so any batch can be rebuilt from (seed, epoch, batch index) without reading what came before.</summary>
public interface ITokenizedDataset
{
    /// <summary>Number of samples.</summary>
    long Count { get; }

    /// <summary>Length of X, Y and LossMask (MiniMind's max_length − 1).</summary>
    int SeqLen { get; }

    /// <summary>Sample <paramref name="index"/> (0 ≤ index &lt; Count). Thread-safe.</summary>
    TrainingSample Get(long index);
}
