using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Feeds tokens to a model one call at a time and returns the last position's logits, either with MiniMind's
/// KV cache (prefill once, then one token per call, README items 3–4) or by re-running the whole sequence.
/// Each call runs in eval mode under no_grad inside its own dispose scope; only the cache leaves it.</summary>
public sealed class IncrementalDecoder : IDisposable
{
    readonly MiniMindForCausalLM model;
    readonly Device device;
    readonly List<long> history = [];
    KVCache? cache;

    public IncrementalDecoder(MiniMindForCausalLM model, bool useCache = true)
    {
        this.model = model;
        device = model.parameters().First().device;
        UseCache = useCache;
    }

    public bool UseCache { get; }

    /// <summary>Every token fed so far.</summary>
    public IReadOnlyList<long> Tokens => history;

    /// <summary>The current cache (null before the first call or without caching).</summary>
    public KVCache? Cache => cache;

    /// <summary>Appends <paramref name="tokens"/> and returns the logits (vocab) that predict the next token.</summary>
    public float[] Feed(IReadOnlyList<long> tokens)
    {
        if (tokens.Count == 0) throw new ArgumentException("nothing to feed", nameof(tokens));
        var max = model.Config.MaxPositionEmbeddings;
        if (history.Count + tokens.Count > max)
            throw new InvalidOperationException($"sequence would exceed max_position_embeddings ({max})");
        history.AddRange(tokens);

        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var feed = UseCache ? tokens : history;
            var ids = tensor(feed.ToArray(), [1, feed.Count], dtype: ScalarType.Int64, device: device);  // (1, T)
            var output = model.forward(ids, null, UseCache ? cache : null, UseCache, logits_to_keep: 1);
            if (UseCache)
            {
                cache?.Dispose();
                cache = output.past_key_values!.MoveToOuterDisposeScope();
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
    }
}
