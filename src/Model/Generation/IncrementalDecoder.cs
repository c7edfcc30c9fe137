using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Feeds tokens to a model one call at a time and returns the last position's logits, either with MiniMind's
/// KV cache (prefill once, then one token per call, the two cached forwards MiniMind supports) or by re-running the whole sequence.
/// With the cache, a model with packed weights (<see cref="MiniMindForCausalLM.Packed"/>, <c>--dtype bf16|int8</c>) runs
/// every call on <see cref="PackedDecoder"/>; a float32 model without LoRA decodes after the prefill through
/// <see cref="SingleTokenDecoder"/> (preallocated cache, few ops); otherwise through the general forward with a cat-grown cache.
/// Each call runs in eval mode under inference_mode inside its own dispose scope; only the cache leaves it.</summary>
public sealed class IncrementalDecoder : IDisposable
{
    readonly MiniMindForCausalLM model;
    readonly Device device;
    readonly List<long> history = [];
    readonly int capacity;
    KVCache? cache;
    SingleTokenDecoder? fast;
    PackedDecoder? packed;

    /// <param name="capacity">positions to preallocate for the fast decode path (prompt + new tokens); it grows if exceeded.</param>
    /// <param name="fastDecode">false forces the general forward for every step (for comparisons).</param>
    public IncrementalDecoder(MiniMindForCausalLM model, bool useCache = true, int capacity = 256, bool fastDecode = true)
    {
        this.model = model;
        device = model.parameters().First().device;
        UseCache = useCache;
        this.capacity = capacity;
        Packed = useCache && fastDecode && model.Packed is not null;
        FastDecode = Packed || (useCache && fastDecode && SingleTokenDecoder.Supports(model));
    }

    /// <summary>Every call (prompt included) runs on <see cref="PackedDecoder"/> over <see cref="MiniMindForCausalLM.Packed"/>.</summary>
    public bool Packed { get; }

    public bool UseCache { get; }

    /// <summary>Single-token steps go through <see cref="SingleTokenDecoder"/>.</summary>
    public bool FastDecode { get; }

    /// <summary>Every token fed so far.</summary>
    public IReadOnlyList<long> Tokens => history;

    /// <summary>The current cache (null before the first call, without caching, or on the <see cref="Packed"/> path, whose
    /// cache is native memory). On the fast path these are views of the preallocated buffers, valid until the next call.</summary>
    public KVCache? Cache
    {
        get
        {
            if (fast is null) return cache;
            cache?.Dispose();                                                  // disposes the previous views, not the buffers
            return cache = fast.View();
        }
    }

    /// <summary>Appends <paramref name="tokens"/> and returns the logits (vocab) that predict the next token.</summary>
    public float[] Feed(IReadOnlyList<long> tokens)
    {
        if (tokens.Count == 0) throw new ArgumentException("nothing to feed", nameof(tokens));
        var max = model.Config.MaxPositionEmbeddings;
        if (history.Count + tokens.Count > max)
            throw new InvalidOperationException($"sequence would exceed max_position_embeddings ({max})");
        var first = history.Count == 0;
        history.AddRange(tokens);
        if (Packed)
        {
            packed ??= new PackedDecoder(model.Packed!, Math.Max(capacity, history.Count));
            return packed.Feed(tokens);
        }

        var wasTraining = model.training;
        model.eval();
        try
        {
            using var inference = inference_mode();                          // no_grad plus no version counters
            using var scope = NewDisposeScope();
            if (FastDecode && !first)
            {
                Tensor? last = null;
                foreach (var token in tokens) last = fast!.Step(token);
                return last!.cpu().data<float>().ToArray();
            }
            var feed = UseCache ? tokens : history;
            var ids = tensor(feed.ToArray(), [1, feed.Count], dtype: ScalarType.Int64, device: device);  // (1, T)
            var output = model.forward(ids, null, UseCache ? cache : null, UseCache, logits_to_keep: 1);
            if (UseCache)
            {
                cache?.Dispose();
                cache = output.past_key_values!.MoveToOuterDisposeScope();
                if (FastDecode)
                {
                    fast = new SingleTokenDecoder(model, Math.Max(capacity, history.Count));
                    fast.Load(cache);
                    cache.Dispose();
                    cache = null;
                }
            }
            return output.logits[0, -1].to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    public void Dispose()
    {
        cache?.Dispose();
        cache = null;
        fast?.Dispose();
        fast = null;
        packed?.Dispose();
        packed = null;
    }
}
