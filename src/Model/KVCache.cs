using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>One layer's cache: keys after RoPE and values, both (B, T_past, n_kv_heads, head_dim),
/// stored before repeat_kv exactly like MiniMind's past_key_value tuple (RoPE already applied).</summary>
public sealed record LayerKV(Tensor k, Tensor v);

/// <summary>The per-layer caches of a whole model, MiniMind's past_key_values list.
/// It owns its tensors: dispose it, or move it out of a dispose scope with <see cref="MoveToOuterDisposeScope"/>.</summary>
public sealed class KVCache : IDisposable
{
    public IReadOnlyList<LayerKV> Layers { get; }

    public KVCache(IReadOnlyList<LayerKV> layers) => Layers = layers;

    /// <summary>Positions already cached: the RoPE offset of the next token.</summary>
    public long Length => Layers.Count == 0 ? 0 : Layers[0].k.shape[1];

    public LayerKV this[int layer] => Layers[layer];

    /// <summary>Detaches every tensor from the current dispose scope, so the cache survives a per-step scope.</summary>
    public KVCache MoveToOuterDisposeScope()
    {
        foreach (var kv in Layers)
        {
            kv.k.MoveToOuterDisposeScope();
            kv.v.MoveToOuterDisposeScope();
        }
        return this;
    }

    public void Dispose()
    {
        foreach (var kv in Layers)
        {
            kv.k.Dispose();
            kv.v.Dispose();
        }
    }
}

/// <summary>What every block of one forward shares: the RoPE rows of the new positions (T, head_dim),
/// the optional padding mask (B, T_past + T) of 1 = attend / 0 = padding, and whether to return caches.</summary>
public sealed record DecoderContext(Tensor cos, Tensor sin, Tensor? attention_mask, bool use_cache);
