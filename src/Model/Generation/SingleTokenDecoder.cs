using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>
/// The decode step of batch-1 generation, one token per call, written for few torch ops (each costs microseconds of
/// P/Invoke and handle overhead, which dominated the general forward at T = 1). The arithmetic is each module's own
/// <c>DecodeOne</c> (<see cref="MiniMindForCausalLM.DecodeOne"/> down to <see cref="Attention.DecodeOne"/>); this class
/// owns what a decode needs besides the weights:
/// <list type="bullet">
/// <item>a KV cache preallocated as (nkv, capacity, hd) per layer, written in place (no cat per step), grown by doubling;</item>
/// <item>RoPE for one position as x·cos + (x·P)·sin, P the (hd, hd) signed permutation with x·P = rotate_half(x);</item>
/// <item>the scalars the step uses, made once.</item>
/// </list>
/// The modules read their own parameters (no copies), so in-place weight updates stay visible. It is float32 only and
/// refuses LoRA (hooks) and bf16 compute: <see cref="Supports"/>. Prefill runs through the general forward
/// (MiniMind's numerics) and its cache is copied in with <see cref="Load"/>.
/// The caller opens no_grad / eval; every <see cref="Step"/> opens its own dispose scope.
/// </summary>
public sealed class SingleTokenDecoder : IDisposable
{
    readonly MiniMindForCausalLM model;
    readonly int layers, n_kv_heads, head_dim;
    // Scalars made once: an implicit double → Scalar conversion allocates a native handle on every op.
    readonly Scalar scale, one = 1.0.ToScalar();
    readonly Tensor rotate;                                                   // (hd, hd): x·rotate = rotate_half(x)
    readonly LayerBuffers[] cache;                                            // per layer (nkv, capacity, hd) each

    public SingleTokenDecoder(MiniMindForCausalLM model, int capacity)
    {
        if (!Supports(model)) throw new ArgumentException("the single-token decoder needs a float32 model without LoRA");
        this.model = model;
        var c = model.Config;
        layers = c.NumHiddenLayers;
        n_kv_heads = c.NumKeyValueHeads;
        head_dim = c.HeadDim;
        scale = (1.0 / Math.Sqrt(head_dim)).ToScalar();
        var device = model.Model.RopeTables.cos.device;
        var half = head_dim / 2;
        var p = new float[head_dim * head_dim];
        for (var j = 0; j < half; j++)
        {
            p[(j + half) * head_dim + j] = -1f;                              // out[j] = −x[j + hd/2]
            p[j * head_dim + j + half] = 1f;                                 // out[j + hd/2] = x[j]
        }
        rotate = tensor(p, [head_dim, head_dim]).to(device).DetachFromDisposeScope();
        Capacity = Math.Max(1, capacity);
        cache = [.. Enumerable.Range(0, layers).Select(_ => new LayerBuffers(Buffer(Capacity, device), Buffer(Capacity, device)))];
    }

    /// <summary>Float32 compute and no LoRA hooks (the step calls the weights directly).</summary>
    public static bool Supports(MiniMindForCausalLM model) =>
        model.ComputeDType == ScalarType.Float32 && !model.modules().OfType<LoRALayer>().Any();

    /// <summary>Positions the buffers hold before they must grow (doubling, one copy).</summary>
    public long Capacity { get; private set; }

    /// <summary>Positions cached: the RoPE position of the next token.</summary>
    public long Length { get; private set; }

    /// <summary>The per-layer key buffers (for tests: they are the same objects for as long as no growth happens).</summary>
    internal IReadOnlyList<Tensor> KeyBuffers => [.. cache.Select(b => b.K)];

    /// <summary>Replaces the cache with a general-forward cache (B = 1): layer tensors (1, T, nkv, hd).</summary>
    public void Load(KVCache source)
    {
        var T = source.Length;
        EnsureCapacity(T);
        using var scope = NewDisposeScope();
        for (var l = 0; l < layers; l++)
        {
            cache[l].K.narrow(1, 0, T).copy_(source[l].k[0].transpose(0, 1));  // (nkv, T, hd)
            cache[l].V.narrow(1, 0, T).copy_(source[l].v[0].transpose(0, 1));
        }
        Length = T;
    }

    /// <summary>The cache as MiniMind's layout, (1, T, nkv, hd) views of the buffers; dispose the result (not the buffers).</summary>
    public KVCache View() => new(cache.Select(b => new LayerKV(
        b.K.narrow(1, 0, Length).transpose(0, 1).unsqueeze(0),
        b.V.narrow(1, 0, Length).transpose(0, 1).unsqueeze(0))).ToList());

    /// <summary>Feeds one token at position <see cref="Length"/> and returns its logits (vocab), float32, on the model's device.
    /// The result is owned by the caller's dispose scope.</summary>
    public Tensor Step(long token)
    {
        if (Length >= model.Config.MaxPositionEmbeddings)
            throw new InvalidOperationException($"sequence would exceed max_position_embeddings ({model.Config.MaxPositionEmbeddings})");
        EnsureCapacity(Length + 1);
        using var scope = NewDisposeScope();
        var (cos, sin) = model.Model.RopeTables;
        var step = new TokenDecode(Length, cos.narrow(0, Length, 1), sin.narrow(0, Length, 1), rotate, scale, one);   // (1, hd)
        var logits = model.DecodeOne(token, step, cache);                    // (vocab)
        Length++;
        return logits.MoveToOuterDisposeScope();
    }

    void EnsureCapacity(long needed)
    {
        if (needed <= Capacity) return;
        var capacity = Math.Max(needed, 2 * Capacity);
        for (var l = 0; l < layers; l++) cache[l] = new LayerBuffers(Grow(cache[l].K, capacity), Grow(cache[l].V, capacity));
        Capacity = capacity;
    }

    Tensor Grow(Tensor old, long capacity)
    {
        var grown = Buffer(capacity, old.device);
        using (var _ = no_grad()) grown.narrow(1, 0, Length).copy_(old.narrow(1, 0, Length));
        old.Dispose();
        return grown;
    }

    /// <summary>Long-lived: never owned by whatever dispose scope is open when it is made.</summary>
    Tensor Buffer(long capacity, Device device) => zeros(n_kv_heads, capacity, head_dim, device: device).DetachFromDisposeScope();

    public void Dispose()
    {
        foreach (var b in cache)
        {
            b.K.Dispose();
            b.V.Dispose();
        }
        rotate.Dispose();
        scale.Dispose();
        one.Dispose();
    }
}
