using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// The loss weighting of <c>trainer/train_distill_reason.py</c>: the normaliser is <c>loss_mask.sum()</c> taken
/// first, then every target whose id is one of the tag ids (<c>&lt;think&gt;</c>, <c>&lt;/think&gt;</c>,
/// <c>&lt;answer&gt;</c>, <c>&lt;/answer&gt;</c> tokenized: <c>&lt;</c>, <c>&gt;</c>, <c>th</c>, <c>ink</c>, <c>&lt;/</c>,
/// <c>ans</c>, <c>w</c>, <c>er</c>) gets weight 10, <b>even where the mask was 0</b>, e.g. the <c>er</c> of
/// <c>&lt;|im_start|&gt;user</c>. Reproduced as is; loss = sum(ce * Mask) / Normalizer.
/// </summary>
public sealed record ReasonLossMask(int[] Mask, int Normalizer)
{
    /// <summary>The weight MiniMind gives tag tokens.</summary>
    public const int TagWeight = 10;

    /// <summary><c>tokenizer('&lt;think&gt;') + tokenizer('&lt;/think&gt;') + tokenizer('&lt;answer&gt;') + tokenizer('&lt;/answer&gt;')</c>.</summary>
    public static int[] TagIds(BpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return [.. tokenizer.Encode("<think>"), .. tokenizer.Encode("</think>"), .. tokenizer.Encode("<answer>"), .. tokenizer.Encode("</answer>")];
    }

    /// <summary>Weights for targets <paramref name="y"/> given the shifted SFT mask.</summary>
    public static ReasonLossMask Build(ReadOnlySpan<int> y, ReadOnlySpan<int> lossMaskShifted, ReadOnlySpan<int> tagIds)
    {
        if (y.Length != lossMaskShifted.Length) throw new ArgumentException("Y and the loss mask must have the same length");
        var sum = 0;
        var mask = new int[y.Length];
        for (var i = 0; i < y.Length; i++)
        {
            sum += lossMaskShifted[i];
            mask[i] = tagIds.Contains(y[i]) ? TagWeight : lossMaskShifted[i];
        }
        return new ReasonLossMask(mask, sum);
    }
}
