using MiniMind.Model.Data;
using MiniMind.Model.Evaluation;

namespace MiniMind.Actors;

/// <summary>In-training held-out evaluation (<c>--eval-data</c>, <c>--eval-interval</c>, <c>--eval-batches</c>): after every
/// <paramref name="Interval"/>-th step and after the last one, worker-0 scores the first <paramref name="Batches"/> batches
/// of <paramref name="DataPath"/> (the training data's stage format and tokenizer, in file order, no shuffling) without
/// gradients: the mean NLL per scored token and its exponential, as <c>minimind eval --data</c> computes them
/// (<see cref="Perplexity"/>). Not part of the run's identity: the numbers of training do not depend on it, so a run may
/// resume with evaluation switched on, off or changed.</summary>
public sealed record EvalSettings(string DataPath, int Interval, int Batches)
{
    /// <summary>Default of <c>--eval-batches</c>.</summary>
    public const int DefaultBatches = 8;

    /// <summary>The first <paramref name="batches"/> × <paramref name="batchSize"/> samples of <paramref name="data"/>
    /// (all of them when it holds fewer), as perplexity samples: the same X/Y as training, scored where the training
    /// loss mask is non-zero (reason data's ×10 tag weights count once: a plain per-token perplexity).</summary>
    public static IReadOnlyList<EvalSample> HeldOut(ITokenizedDataset data, int batchSize, int batches)
    {
        var n = (int)Math.Min(data.Count, (long)batchSize * batches);
        var samples = new EvalSample[n];
        for (var i = 0; i < n; i++)
        {
            var s = data.Get(i);
            samples[i] = new EvalSample(i + 1, s.X, s.Y, [.. s.LossMask.Select(m => m > 0 ? 1 : 0)]);
        }
        return samples;
    }
}
