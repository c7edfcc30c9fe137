namespace MiniMind.Model;

/// <summary>Token choice from one logits row.</summary>
public static class Sampling
{
    /// <summary>Index of the largest logit (the first one on ties, like torch.argmax).</summary>
    public static long Argmax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Samples from softmax(logits / temperature) restricted to the smallest set of most likely tokens whose
    /// mass reaches topP (HF's TopPLogitsWarper: the token that crosses the threshold is kept).</summary>
    public static long TopP(ReadOnlySpan<float> logits, double temperature, double topP, Random random)
    {
        if (temperature <= 0) return Argmax(logits);
        var n = logits.Length;
        var max = double.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        var probs = new double[n];
        var sum = 0.0;
        for (var i = 0; i < n; i++) sum += probs[i] = Math.Exp((logits[i] - max) / temperature);
        var order = Enumerable.Range(0, n).OrderByDescending(i => probs[i]).ToArray();
        var kept = 0;
        var mass = 0.0;
        while (kept < n && (kept == 0 || mass < topP * sum))
            mass += probs[order[kept++]];
        var r = random.NextDouble() * mass;
        for (var j = 0; j < kept; j++)
        {
            r -= probs[order[j]];
            if (r <= 0) return order[j];
        }
        return order[kept - 1];
    }
}
