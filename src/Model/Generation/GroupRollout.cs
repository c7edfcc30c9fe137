using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>How a GRPO rollout samples: MiniMind's rollout engine calls <c>model.generate(..., do_sample=True,
/// temperature=0.8)</c>, so its generate's defaults top_k 50 and top_p 0.85 apply too.</summary>
/// <param name="NumGenerations">Completions per prompt (MiniMind: 6).</param>
/// <param name="MaxNewTokens">MiniMind's max_gen_len.</param>
public sealed record RolloutOptions(int NumGenerations, int MaxNewTokens, double Temperature = 0.8, int TopK = 50, double TopP = 0.85, long EosTokenId = 2);

/// <summary>One prompt's group: <see cref="Completions"/> (G rows of R tokens: every row runs until the whole group has
/// emitted EOS or R = max_new_tokens; a row that finished earlier is filled with EOS, as MiniMind's generate does) and
/// the rollout policy's log-prob of each sampled token (untempered: log_softmax of the raw logits, MiniMind's
/// old_per_token_logps; 0 for the EOS filler).</summary>
public sealed record GroupCompletions(long[][] Completions, float[][] LogProbs)
{
    public int Length => Completions.Length == 0 ? 0 : Completions[0].Length;
}

/// <summary>
/// Generates a GRPO group: G completions of one prompt with the KV cache, as one batch of G rows (the prompt is
/// prefilled once per row; no padding, every row has the same prompt). Row g samples from its own RNG seeded with
/// <c>seeds[g]</c> (<see cref="RolloutRandom"/>), in .NET on the float32 logits, so a rollout is a pure function of
/// (weights, prompt, seeds): re-running it, on any worker, gives the same tokens. Runs in eval mode under
/// inference_mode; the model's train/eval mode is restored.
/// </summary>
public static class GroupRollout
{
    public static GroupCompletions Generate(MiniMindForCausalLM model, IReadOnlyList<int> prompt, RolloutOptions options, IReadOnlyList<ulong> seeds)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = options.NumGenerations;
        if (seeds.Count != g) throw new ArgumentException($"{g} generations need {g} seeds, got {seeds.Count}", nameof(seeds));
        if (prompt.Count == 0) throw new ArgumentException("the prompt is empty", nameof(prompt));
        var limit = Math.Min(options.MaxNewTokens, model.Config.MaxPositionEmbeddings - prompt.Count);
        var tokens = Enumerable.Range(0, g).Select(_ => new List<long>()).ToArray();
        var logps = Enumerable.Range(0, g).Select(_ => new List<float>()).ToArray();
        if (limit <= 0) return new GroupCompletions([.. tokens.Select(t => t.ToArray())], [.. logps.Select(l => l.ToArray())]);
        var random = seeds.Select(s => new RolloutRandom(s)).ToArray();
        var finished = new bool[g];
        var device = model.parameters().First().device;
        var wasTraining = model.training;
        model.eval();
        KVCache? cache = null;
        try
        {
            using var inference = inference_mode();
            var feed = new long[g * prompt.Count];
            for (var r = 0; r < g; r++)
                for (var i = 0; i < prompt.Count; i++) feed[r * prompt.Count + i] = prompt[i];
            var width = prompt.Count;
            for (var step = 0; step < limit; step++)
            {
                float[] logits;
                using (var scope = NewDisposeScope())
                {
                    var ids = tensor(feed, [g, width], dtype: ScalarType.Int64, device: device);          // (G, T)
                    var output = model.forward(ids, null, cache, true, logits_to_keep: 1);
                    cache?.Dispose();
                    cache = output.past_key_values!.MoveToOuterDisposeScope();
                    logits = output.logits.select(1, -1).to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();   // (G, V)
                }
                var v = logits.Length / g;
                feed = new long[g];
                for (var r = 0; r < g; r++)
                {
                    var row = logits.AsSpan(r * v, v);
                    long next;
                    float logp;
                    if (finished[r]) (next, logp) = (options.EosTokenId, 0f);
                    else
                    {
                        next = Sample(row, options, random[r]);
                        logp = LogProb(row, (int)next);
                        finished[r] = next == options.EosTokenId;
                    }
                    tokens[r].Add(next);
                    logps[r].Add(logp);
                    feed[r] = next;
                }
                width = 1;
                if (finished.All(f => f)) break;
            }
        }
        finally
        {
            cache?.Dispose();
            if (wasTraining) model.train();
        }
        return new GroupCompletions([.. tokens.Select(t => t.ToArray())], [.. logps.Select(l => l.ToArray())]);
    }

    /// <summary>softmax(logits / T) after top-k (values below the k-th largest dropped) and top-p (a token is dropped
    /// when the sorted mass before it already exceeds p; the first always stays), sampled with one uniform draw.</summary>
    public static long Sample(ReadOnlySpan<float> logits, RolloutOptions o, RolloutRandom random)
    {
        var order = Candidates(logits, o.TopK);                                    // descending, ties by index
        var kept = order.Length;
        var max = logits[order[0]] / o.Temperature;
        var probs = new double[kept];
        var sum = 0.0;
        for (var j = 0; j < kept; j++) sum += probs[j] = Math.Exp(logits[order[j]] / o.Temperature - max);
        var cut = kept;
        if (o.TopP < 1.0)
        {
            var cumulative = 0.0;
            for (var j = 0; j < kept; j++)
            {
                if (j > 0 && cumulative > o.TopP) { cut = j; break; }
                cumulative += probs[j] / sum;
            }
        }
        var mass = 0.0;
        for (var j = 0; j < cut; j++) mass += probs[j];
        var u = random.NextDouble() * mass;
        for (var j = 0; j < cut; j++)
        {
            u -= probs[j];
            if (u < 0) return order[j];
        }
        return order[cut - 1];
    }

    /// <summary>The indices of the top-k logits (all when k ≤ 0), and every index tied with the k-th, sorted by
    /// descending logit then index: one pass with a bounded heap, not a sort of the vocabulary.</summary>
    static int[] Candidates(ReadOnlySpan<float> logits, int k)
    {
        var n = logits.Length;
        if (k <= 0 || k >= n) k = n;
        var heap = new PriorityQueue<int, (float, int)>(k + 1, Comparer<(float Value, int Index)>.Create((a, b) =>
            a.Value != b.Value ? a.Value.CompareTo(b.Value) : b.Index.CompareTo(a.Index)));   // min-heap: the worst on top
        for (var i = 0; i < n; i++)
        {
            if (heap.Count < k) heap.Enqueue(i, (logits[i], i));
            else if (heap.TryPeek(out _, out var worst) && logits[i] > worst.Item1) heap.EnqueueDequeue(i, (logits[i], i));
        }
        heap.TryPeek(out _, out var kth);
        var chosen = new List<int>(k + 4);
        var seen = new HashSet<int>();
        while (heap.TryDequeue(out var i, out _)) { chosen.Add(i); seen.Add(i); }
        for (var i = 0; i < n; i++)                                                 // torch keeps every value equal to the k-th
            if (logits[i] == kth.Item1 && seen.Add(i)) chosen.Add(i);
        var values = logits.ToArray();
        chosen.Sort((a, b) => values[b] != values[a] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        return [.. chosen];
    }

    /// <summary>log_softmax(logits)[token], untempered, in double.</summary>
    public static float LogProb(ReadOnlySpan<float> logits, int token)
    {
        var max = double.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        var sum = 0.0;
        foreach (var l in logits) sum += Math.Exp(l - max);
        return (float)(logits[token] - max - Math.Log(sum));
    }
}

/// <summary>A small, explicit RNG for rollouts (SplitMix64), so a seed means the same draws on every platform and .NET
/// version. <see cref="Seed"/> mixes the parts of a rollout's identity (run seed, step, sample, generation).</summary>
public sealed class RolloutRandom(ulong seed)
{
    ulong state = seed;

    /// <summary>A uniform double in [0, 1) (53 bits).</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    public ulong Next()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>One seed from several parts, each mixed in turn.</summary>
    public static ulong Seed(params ulong[] parts)
    {
        var h = 0x243F6A8885A308D3UL;
        foreach (var p in parts) h = Mix(h ^ Mix(p + 0x9E3779B97F4A7C15UL));
        return h;
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
