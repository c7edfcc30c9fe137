using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>Causal self-attention with grouped-query heads, RoPE and an optional KV cache: rotate-half RoPE applied
/// before caching, each kv head repeated for n_rep consecutive q heads, softmax in float32.</summary>
public sealed class Attention : nn.Module<Tensor, DecoderContext, LayerKV?, (Tensor output, LayerKV? present)>
{
    readonly int n_heads, n_kv_heads, n_rep, head_dim;
    readonly double dropout;
    readonly bool flash;
    // Field order = MiniMind's state_dict order: q_proj, k_proj, v_proj, o_proj.
    readonly Projection q_proj, k_proj, v_proj, o_proj;
    readonly Dropout attn_dropout, resid_dropout;

    public Attention(MiniMindConfig config) : base(nameof(Attention))
    {
        n_heads = config.NumAttentionHeads;
        n_kv_heads = config.NumKeyValueHeads;
        n_rep = n_heads / n_kv_heads;
        head_dim = config.HeadDim;
        dropout = config.Dropout;
        flash = config.FlashAttn;
        q_proj = new Projection(config.HiddenSize, n_heads * head_dim);
        k_proj = new Projection(config.HiddenSize, n_kv_heads * head_dim);
        v_proj = new Projection(config.HiddenSize, n_kv_heads * head_dim);
        o_proj = new Projection(n_heads * head_dim, config.HiddenSize);
        attn_dropout = nn.Dropout(config.Dropout);
        resid_dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    /// <summary>
    /// One token's attention (x: (h)) over the cache in <paramref name="cache"/>: its key and value are written at
    /// <see cref="TokenDecode.Position"/>, then it attends to positions 0…Position with no mask (one query row sees
    /// every cached key) and GQA as (nkv, n_rep, hd)·Kᵀ on the un-repeated cache (no repeat_kv).
    /// </summary>
    public Tensor DecodeOne(Tensor x, TokenDecode step, LayerBuffers cache)
    {
        var q = Rope.ApplyOne(q_proj.DecodeOne(x).view(n_heads, head_dim), step);        // (nh, hd)
        var k = Rope.ApplyOne(k_proj.DecodeOne(x).view(n_kv_heads, head_dim), step);     // (nkv, hd)
        var v = v_proj.DecodeOne(x).view(n_kv_heads, head_dim);                         // (nkv, hd)
        cache.K.select(1, step.Position).copy_(k);
        cache.V.select(1, step.Position).copy_(v);
        var keys = cache.K.narrow(1, 0, step.Position + 1);                   // (nkv, T, hd)
        var values = cache.V.narrow(1, 0, step.Position + 1);
        var scores = q.view(n_kv_heads, n_rep, head_dim).bmm(keys.transpose(1, 2));       // (nkv, n_rep, T)
        var probs = scores.mul_(step.Scale).softmax(-1);
        var y = probs.bmm(values).view(n_heads * head_dim);                   // (nh·hd), head j = kv j / n_rep
        return o_proj.DecodeOne(y);
    }

    public override (Tensor output, LayerKV? present) forward(Tensor x, DecoderContext ctx, LayerKV? past)
    {
        using var scope = NewDisposeScope();
        long B = x.shape[0], T = x.shape[1];
        var q = q_proj.call(x).view(B, T, n_heads, head_dim);                 // (B, T, nh, hd)
        var k = k_proj.call(x).view(B, T, n_kv_heads, head_dim);              // (B, T, nkv, hd)
        var v = v_proj.call(x).view(B, T, n_kv_heads, head_dim);              // (B, T, nkv, hd)
        q = Rope.Apply(q, ctx.cos, ctx.sin).to_type(v.dtype);                  // float32 RoPE tables promote a bf16 q/k:
        k = Rope.Apply(k, ctx.cos, ctx.sin).to_type(v.dtype);                  // back to the compute dtype (no-op in fp32)
        if (past is not null)
        {
            k = cat([past.k, k], 1);                                          // (B, Tp+T, nkv, hd)
            v = cat([past.v, v], 1);
        }
        var present = ctx.use_cache ? new LayerKV(k, v) : null;

        var qh = q.transpose(1, 2);                                           // (B, nh, T, hd)
        var kh = RepeatKV(k, n_rep).transpose(1, 2);                          // (B, nh, Tk, hd)
        var vh = RepeatKV(v, n_rep).transpose(1, 2);                          // (B, nh, Tk, hd)

        Tensor y;
        // MiniMind's flash branch: only for T > 1 and no padding. We also require an empty cache, where is_causal is right;
        // a real padding mask takes the explicit path (the same numbers except for fully padded query rows).
        if (flash && T > 1 && past is null && (ctx.attention_mask is null || ctx.attention_mask.eq(Scalars.One).all().item<bool>()))
        {
            y = F.scaled_dot_product_attention(qh, kh, vh, p: training ? dropout : 0.0, is_casual: true);
        }
        else
        {
            // MiniMind's explicit path: scores/√hd + causal −inf mask (+ (1−mask)·−1e9), softmax in float32.
            using var sqrtHd = Math.Sqrt(head_dim).ToScalar();
            var scores = qh.matmul(kh.transpose(-2, -1)).div(sqrtHd);        // (B, nh, T, Tk)
            var Tk = kh.shape[2];
            // MiniMind builds the mask as (T, T) and so only supports T == 1 or an empty cache.
            // Offsetting the diagonal by the cached length is the same there and also right for chunks.
            var causal = full(T, Tk, Scalars.NegativeInfinity, dtype: scores.dtype, device: scores.device).triu(Tk - T + 1);
            scores = scores.add(causal, Scalars.One);
            if (ctx.attention_mask is not null)
            {
                var padding = ctx.attention_mask.unsqueeze(1).unsqueeze(2).negative().add(Scalars.OneDouble, Scalars.One)
                    .mul(Scalars.MinusOneBillion);                              // (1 − mask) · −1e9, (B, 1, 1, Tk)
                scores = scores.add(padding, Scalars.One);
            }
            var probs = F.softmax(scores.to_type(ScalarType.Float32), -1).type_as(qh);
            y = attn_dropout.call(probs).matmul(vh);                          // (B, nh, T, hd)
        }
        y = y.transpose(1, 2).reshape(B, T, -1);                              // (B, T, nh*hd)
        var output = resid_dropout.call(o_proj.call(y));
        output.MoveToOuterDisposeScope();
        if (present is not null)
        {
            present.k.MoveToOuterDisposeScope();
            present.v.MoveToOuterDisposeScope();
        }
        return (output, present);
    }

    /// <summary>repeat_kv: kv head j is used by query heads j·n_rep … j·n_rep+n_rep−1 (consecutive repeats, as MiniMind).</summary>
    public static Tensor RepeatKV(Tensor x, int n_rep)
    {
        if (n_rep == 1) return x.alias();
        long B = x.shape[0], T = x.shape[1], nkv = x.shape[2], hd = x.shape[3];
        return x.unsqueeze(3).expand(B, T, nkv, n_rep, hd).reshape(B, T, nkv * n_rep, hd);
    }
}
