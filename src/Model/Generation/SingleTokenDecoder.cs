using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>
/// The decode step of batch-1 generation, one token per call, written for few torch ops (each costs microseconds of
/// P/Invoke and handle overhead, which dominated the general forward at T = 1):
/// <list type="bullet">
/// <item>no causal mask (one query row sees every cached key) and no padding mask;</item>
/// <item>GQA as (nkv, n_rep, hd)·Kᵀ on the un-repeated cache, no repeat_kv;</item>
/// <item>RoPE for one position as x·cos + (x·P)·sin, P the (hd, hd) signed permutation with x·P = rotate_half(x);</item>
/// <item>a KV cache preallocated as (nkv, capacity, hd) per layer and written in place (no cat per step).</item>
/// </list>
/// It reads the model's own parameters (no copies), so in-place weight updates stay visible. It is float32 only and
/// refuses LoRA (hooks) and bf16 compute: <see cref="Supports"/>. Prefill runs through the general forward
/// (MiniMind's numerics) and its cache is copied in with <see cref="Load"/>.
/// The caller opens no_grad / eval; every <see cref="Step"/> opens its own dispose scope.
/// </summary>
public sealed class SingleTokenDecoder : IDisposable
{
    readonly MiniMindForCausalLM model;
    readonly MiniMindBlock[] blocks;
    readonly int n_heads, n_kv_heads, n_rep, head_dim;
    // Scalars made once: an implicit double → Scalar conversion allocates a native handle on every op.
    readonly Scalar scale, one = 1.0.ToScalar();
    readonly Scalar[] eps;
    readonly Tensor rotate;                                                   // (hd, hd): x·rotate = rotate_half(x)
    Tensor[] k_cache, v_cache;                                                // per layer (nkv, capacity, hd)

    public SingleTokenDecoder(MiniMindForCausalLM model, int capacity)
    {
        if (!Supports(model)) throw new ArgumentException("the single-token decoder needs a float32 model without LoRA");
        this.model = model;
        var c = model.Config;
        blocks = model.Model.Layers.ToArray();
        n_heads = c.NumAttentionHeads;
        n_kv_heads = c.NumKeyValueHeads;
        n_rep = n_heads / n_kv_heads;
        head_dim = c.HeadDim;
        scale = (1.0 / Math.Sqrt(head_dim)).ToScalar();
        eps = [.. blocks.SelectMany(b => new[] { b.InputNorm, b.PostNorm }).Append(model.Model.Norm).Select(n => n.Eps.ToScalar())];
        var device = model.LmHead.Weight.device;
        var half = head_dim / 2;
        var p = new float[head_dim * head_dim];
        for (var j = 0; j < half; j++)
        {
            p[(j + half) * head_dim + j] = -1f;                              // out[j] = −x[j + hd/2]
            p[j * head_dim + j + half] = 1f;                                 // out[j + hd/2] = x[j]
        }
        rotate = tensor(p, [head_dim, head_dim]).to(device).DetachFromDisposeScope();
        Capacity = Math.Max(1, capacity);
        k_cache = blocks.Select(_ => Buffer(Capacity, device)).ToArray();
        v_cache = blocks.Select(_ => Buffer(Capacity, device)).ToArray();
    }

    /// <summary>Float32 compute and no LoRA hooks (the step calls the weights directly).</summary>
    public static bool Supports(MiniMindForCausalLM model) =>
        model.ComputeDType == ScalarType.Float32 && !model.modules().OfType<LoRALayer>().Any();

    /// <summary>Positions the buffers hold before they must grow (doubling, one copy).</summary>
    public long Capacity { get; private set; }

    /// <summary>Positions cached: the RoPE position of the next token.</summary>
    public long Length { get; private set; }

    /// <summary>The per-layer key buffers (for tests: they are the same objects for as long as no growth happens).</summary>
    internal IReadOnlyList<Tensor> KeyBuffers => k_cache;

    /// <summary>Replaces the cache with a general-forward cache (B = 1): layer tensors (1, T, nkv, hd).</summary>
    public void Load(KVCache cache)
    {
        var T = cache.Length;
        EnsureCapacity(T);
        using var scope = NewDisposeScope();
        for (var l = 0; l < blocks.Length; l++)
        {
            k_cache[l].narrow(1, 0, T).copy_(cache[l].k[0].transpose(0, 1));  // (nkv, T, hd)
            v_cache[l].narrow(1, 0, T).copy_(cache[l].v[0].transpose(0, 1));
        }
        Length = T;
    }

    /// <summary>The cache as MiniMind's layout, (1, T, nkv, hd) views of the buffers; dispose the result (not the buffers).</summary>
    public KVCache View() => new(Enumerable.Range(0, blocks.Length).Select(l => new LayerKV(
        k_cache[l].narrow(1, 0, Length).transpose(0, 1).unsqueeze(0),
        v_cache[l].narrow(1, 0, Length).transpose(0, 1).unsqueeze(0))).ToList());

    /// <summary>Feeds one token at position <see cref="Length"/> and returns its logits (vocab), float32, on the model's device.
    /// The result is owned by the caller's dispose scope.</summary>
    public Tensor Step(long token)
    {
        if (Length >= model.Config.MaxPositionEmbeddings)
            throw new InvalidOperationException($"sequence would exceed max_position_embeddings ({model.Config.MaxPositionEmbeddings})");
        EnsureCapacity(Length + 1);
        var pos = Length;
        using var scope = NewDisposeScope();
        var (cosTable, sinTable) = model.Model.RopeTables;
        var cos = cosTable.narrow(0, pos, 1);                                 // (1, hd)
        var sin = sinTable.narrow(0, pos, 1);
        var T = pos + 1;

        var x = model.Model.EmbedTokens.weight!.select(0, token);           // (h)
        for (var l = 0; l < blocks.Length; l++)
        {
            var block = blocks[l];
            var attn = block.SelfAttn;
            var hn = Norm(x, block.InputNorm, eps[2 * l]);
            var q = Rope(Linear(hn, attn.QProj.Weight).view(n_heads, head_dim), cos, sin);      // (nh, hd)
            var k = Rope(Linear(hn, attn.KProj.Weight).view(n_kv_heads, head_dim), cos, sin);   // (nkv, hd)
            var v = Linear(hn, attn.VProj.Weight).view(n_kv_heads, head_dim);                  // (nkv, hd)
            k_cache[l].select(1, pos).copy_(k);
            v_cache[l].select(1, pos).copy_(v);
            var keys = k_cache[l].narrow(1, 0, T);                            // (nkv, T, hd)
            var values = v_cache[l].narrow(1, 0, T);
            var scores = q.view(n_kv_heads, n_rep, head_dim).bmm(keys.transpose(1, 2));           // (nkv, n_rep, T)
            var probs = scores.mul_(scale).softmax(-1);
            var y = probs.bmm(values).view(n_heads * head_dim);               // (nh·hd), head j = kv j / n_rep
            x = x + Linear(y, attn.OProj.Weight);
            hn = Norm(x, block.PostNorm, eps[2 * l + 1]);
            x = x + (block.Mlp is FeedForward ff
                ? Linear(F.silu(Linear(hn, ff.GateProj.Weight)).mul_(Linear(hn, ff.UpProj.Weight)), ff.DownProj.Weight)
                : block.Mlp.call(hn.view(1, 1, -1)).view(-1));               // MoE: its eval path on (1, 1, h)
        }
        var logits = Linear(Norm(x, model.Model.Norm, eps[^1]), model.LmHead.Weight);           // (vocab)
        Length = T;
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>y = W·x for a single vector x (in): a matrix-vector product (gemv), the op that streams the weights.</summary>
    static Tensor Linear(Tensor x, Tensor weight) => weight.mv(x);

    /// <summary>RMSNorm in float32: weight · (x · rsqrt(mean(x²) + eps)).</summary>
    static Tensor Norm(Tensor x, RMSNorm norm, Scalar eps) =>
        (x * x.square().mean(Last, keepdim: true).add_(eps).rsqrt_()).mul_(norm.Weight);

    static readonly long[] Last = [-1L];

    /// <summary>x·cos + rotate_half(x)·sin for one position, x (heads, hd).</summary>
    Tensor Rope(Tensor x, Tensor cos, Tensor sin) => (x * cos).addcmul_(x.matmul(rotate), sin, one);

    void EnsureCapacity(long needed)
    {
        if (needed <= Capacity) return;
        var capacity = Math.Max(needed, 2 * Capacity);
        for (var l = 0; l < blocks.Length; l++)
        {
            k_cache[l] = Grow(k_cache[l], capacity);
            v_cache[l] = Grow(v_cache[l], capacity);
        }
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
        foreach (var t in k_cache.Concat(v_cache)) t.Dispose();
        rotate.Dispose();
        foreach (var s in eps.Append(scale).Append(one)) s.Dispose();
    }
}
