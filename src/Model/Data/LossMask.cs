namespace MiniMind.Model.Data;

/// <summary>The loss-mask and shifting helpers shared by MiniMind's datasets (dataset/lm_dataset.py at 561979c).</summary>
public static class LossMask
{
    /// <summary>
    /// MiniMind's <c>_generate_loss_mask</c>: for each assistant header (<paramref name="assistantStart"/>) find the
    /// first turn end (<paramref name="turnEnd"/>) at or after the header's end, and set the mask from one past
    /// the header's end (skipping the "\n" after "assistant") through the turn end and the token after it, capped
    /// below <paramref name="maxLength"/>. Scanning resumes after the turn end; with no turn end the span runs to
    /// the last position. Example: a reply "我来自地球" gives 1s over its ids, <c>&lt;|im_end|&gt;</c> and "\n".
    /// </summary>
    public static int[] Generate(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> assistantStart, ReadOnlySpan<int> turnEnd, int maxLength)
    {
        var mask = new int[inputIds.Length];
        Generate(inputIds, assistantStart, turnEnd, maxLength, mask);
        return mask;
    }

    /// <summary><see cref="Generate(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int)"/> into
    /// <paramref name="mask"/> (as long as <paramref name="inputIds"/>; overwritten), without allocating.</summary>
    public static void Generate(ReadOnlySpan<int> inputIds, ReadOnlySpan<int> assistantStart, ReadOnlySpan<int> turnEnd, int maxLength, Span<int> mask)
    {
        if (assistantStart.IsEmpty || turnEnd.IsEmpty) throw new ArgumentException("assistant-start and turn-end ids must not be empty");
        var n = inputIds.Length;
        if (mask.Length != n) throw new ArgumentException("the mask must be as long as the ids", nameof(mask));
        mask.Clear();
        var i = 0;
        while (i < n)
        {
            if (!inputIds[i..].StartsWith(assistantStart))
            {
                i++;
                continue;
            }
            var start = i + assistantStart.Length;
            var end = start;
            while (end < n && !inputIds[end..].StartsWith(turnEnd)) end++;
            // Python: range(start + 1, min(end + len(eos_id) + 1, max_length)); also kept inside the list.
            var stop = Math.Min(Math.Min(end + turnEnd.Length + 1, maxLength), n);
            for (var j = start + 1; j < stop; j++) mask[j] = 1;
            i = end < n ? end + turnEnd.Length : n;
        }
    }

    /// <summary>The pretraining mask: 1 where the id is not the pad id (so a literal <c>&lt;|endoftext|&gt;</c>, id 0, is masked too).</summary>
    public static int[] NonPadding(ReadOnlySpan<int> inputIds, int padId)
    {
        var mask = new int[inputIds.Length];
        for (var i = 0; i < mask.Length; i++) mask[i] = inputIds[i] != padId ? 1 : 0;
        return mask;
    }

    /// <summary><c>ids[:max_length]</c> right-padded with <paramref name="padId"/> to <paramref name="maxLength"/>
    /// (SFT's slice-and-pad and HF's <c>truncation=True, padding='max_length'</c> give the same ids).</summary>
    public static int[] TruncateOrPad(ReadOnlySpan<int> ids, int maxLength, int padId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        var result = new int[maxLength];
        var kept = Math.Min(ids.Length, maxLength);
        ids[..kept].CopyTo(result);
        result.AsSpan(kept).Fill(padId);
        return result;
    }

    /// <summary><c>X = ids[:-1]</c>: the model input.</summary>
    public static int[] Inputs(int[] inputIds) => inputIds[..^1];

    /// <summary><c>Y = ids[1:]</c>: the next-token targets.</summary>
    public static int[] Targets(int[] inputIds) => inputIds[1..];

    /// <summary><c>loss_mask[1:]</c>: the mask aligned with <see cref="Targets"/>, what the trainer receives.</summary>
    public static int[] Shifted(int[] mask) => mask[1..];
}
