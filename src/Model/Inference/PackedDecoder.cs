using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>
/// Batch-1 generation over a <see cref="PackedModel"/> (bf16 or int8 weights) in plain C#, no torch op per token:
/// the prompt (prefill, in chunks of up to 16 positions, so a weight row is read once per chunk) and then one token
/// per call. It is MiniMind's forward for B = 1 written out: embedding row, per block RMSNorm → q|k|v in one
/// <see cref="Gemv"/> → rotate-half RoPE → the KV cache → attention (GQA: query head j reads kv head j / n_rep,
/// softmax in float32) → o → residual → RMSNorm → gate|up in one GEMV → silu(gate)·up → down → residual, then the
/// final RMSNorm and lm_head for the last position only. Everything but the weights is float32.
/// The KV cache is bfloat16 for packed bf16 and int8 weights (int8 keys and values would need a scale per position and
/// head and save little: at these lengths the cache is a few percent of the bytes a step reads) and float32 for fp32.
/// It lives in native memory as (n_kv_heads, capacity, head_dim) per layer and doubles when full.
/// Not thread-safe: one sequence, one caller.
/// </summary>
public sealed unsafe class PackedDecoder : IDisposable
{
    /// <summary>Prefill positions per pass over the weights.</summary>
    public const int Chunk = 16;

    readonly PackedModel w;
    readonly int layers, h, nh, nkv, hd, rep, ffn, qd, kd, vocab;
    readonly float eps, scale;
    readonly PackedFormat kvFormat;
    readonly List<nint> allocations = [];
    readonly byte*[] keys, values;                                           // per layer (nkv, capacity, hd)
    float* ropeCos, ropeSin;                                                         // (capacity, hd) rows of the model's tables
    readonly float* x, xn, qkv, att, tmp, gu, act, logits;                   // scratch, Chunk rows each
    float* scores;                                                           // (capacity)

    public PackedDecoder(PackedModel weights, int capacity)
    {
        w = weights;
        var c = weights.Config;
        layers = c.NumHiddenLayers;
        h = c.HiddenSize;
        nh = c.NumAttentionHeads;
        nkv = c.NumKeyValueHeads;
        hd = c.HeadDim;
        rep = nh / nkv;
        ffn = c.FfnSize;
        qd = nh * hd;
        kd = nkv * hd;
        vocab = c.VocabSize;
        eps = (float)c.RmsNormEps;
        scale = (float)(1.0 / Math.Sqrt(hd));
        kvFormat = weights.Format == PackedFormat.Fp32 ? PackedFormat.Fp32 : PackedFormat.Bf16;
        x = Floats(Chunk * h);
        xn = Floats(Chunk * h);
        qkv = Floats(Chunk * (qd + 2 * kd));
        att = Floats(Chunk * qd);
        tmp = Floats(Chunk * h);
        gu = Floats(Chunk * 2 * ffn);
        act = Floats(Chunk * ffn);
        logits = Floats(vocab);
        keys = new byte*[layers];
        values = new byte*[layers];
        Grow(Math.Clamp(capacity, 1, c.MaxPositionEmbeddings));
    }

    /// <summary>Positions cached: the position of the next token.</summary>
    public long Length { get; private set; }

    /// <summary>Positions the cache holds before it grows.</summary>
    public int Capacity { get; private set; }

    /// <summary>The KV cache's element format: bf16 for packed bf16/int8 weights, fp32 for fp32.</summary>
    public PackedFormat CacheFormat => kvFormat;

    /// <summary>Appends <paramref name="tokens"/> at positions Length… and returns the logits (vocab) that predict the next token.</summary>
    public float[] Feed(IReadOnlyList<long> tokens)
    {
        if (tokens.Count == 0) throw new ArgumentException("nothing to feed", nameof(tokens));
        var max = w.Config.MaxPositionEmbeddings;
        if (Length + tokens.Count > max) throw new InvalidOperationException($"sequence would exceed max_position_embeddings ({max})");
        if (Length + tokens.Count > Capacity) Grow((int)Math.Min(max, Math.Max(Length + tokens.Count, 2L * Capacity)));
        for (var i = 0; i < tokens.Count; i += Chunk)
        {
            var m = Math.Min(Chunk, tokens.Count - i);
            for (var r = 0; r < m; r++)
            {
                var token = tokens[i + r];
                if (token < 0 || token >= vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token {token} is outside the vocabulary ({vocab})");
                w.LmHead.DequantiseRow((int)token, new Span<float>(x + r * h, h));   // tied embedding (B, T, h)
            }
            Forward(m, last: i + m == tokens.Count);
        }
        return new ReadOnlySpan<float>(logits, vocab).ToArray();
    }

    void Forward(int m, bool last)
    {
        var threads = w.Threads;
        var isa = Gemv.Isa;
        var pos0 = (int)Length;
        var stride = qd + 2 * kd;
        for (var l = 0; l < layers; l++)
        {
            var L = w.Layers[l];
            for (var r = 0; r < m; r++) RmsNorm(x + r * h, L.input_layernorm, xn + r * h);
            Gemv.Multiply(L.qkv, xn, m, qkv, threads);                       // (m, q | k | v)
            for (var r = 0; r < m; r++)
            {
                var q = qkv + r * stride;
                var pos = pos0 + r;
                Rope(q, nh, pos);
                Rope(q + qd, nkv, pos);
                Store(l, pos, q + qd, q + qd + kd);
            }
            for (var r = 0; r < m; r++) Attend(l, qkv + r * stride, pos0 + r, att + r * qd, isa);
            Gemv.Multiply(L.o_proj, att, m, tmp, threads);
            Add(x, tmp, m * h);
            for (var r = 0; r < m; r++) RmsNorm(x + r * h, L.post_attention_layernorm, xn + r * h);
            Gemv.Multiply(L.gate_up, xn, m, gu, threads);                    // (m, gate | up)
            for (var r = 0; r < m; r++)
            {
                float* g = gu + r * 2 * ffn, u = g + ffn, a = act + r * ffn;
                for (var i = 0; i < ffn; i++) a[i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];   // silu(gate) · up
            }
            Gemv.Multiply(L.down_proj, act, m, tmp, threads);
            Add(x, tmp, m * h);
        }
        Length += m;
        if (!last) return;
        RmsNorm(x + (m - 1) * h, w.Norm, xn);
        Gemv.Multiply(w.LmHead, xn, 1, logits, threads);                     // only the last position's logits
    }

    /// <summary>MiniMind's RMSNorm in float32: weight · (x · rsqrt(mean(x²) + eps)).</summary>
    void RmsNorm(float* v, float[] weight, float* output)
    {
        var sum = 0f;
        for (var i = 0; i < h; i++) sum += v[i] * v[i];
        var inv = 1f / MathF.Sqrt(sum / h + eps);
        for (var i = 0; i < h; i++) output[i] = v[i] * inv * weight[i];
    }

    /// <summary>x·cos + rotate_half(x)·sin for each of <paramref name="heads"/> heads of one position, in place.</summary>
    void Rope(float* v, int heads, int pos)
    {
        float* c = ropeCos + (long)pos * hd, s = ropeSin + (long)pos * hd;
        var half = hd / 2;
        for (var head = 0; head < heads; head++, v += hd)
            for (var j = 0; j < half; j++)
            {
                float a = v[j], b = v[j + half];
                v[j] = a * c[j] - b * s[j];
                v[j + half] = b * c[j + half] + a * s[j + half];
            }
    }

    void Store(int layer, int pos, float* k, float* v)
    {
        for (var g = 0; g < nkv; g++)
        {
            var offset = ((long)g * Capacity + pos) * hd;
            if (kvFormat == PackedFormat.Fp32)
            {
                new ReadOnlySpan<float>(k + g * hd, hd).CopyTo(new Span<float>((float*)keys[layer] + offset, hd));
                new ReadOnlySpan<float>(v + g * hd, hd).CopyTo(new Span<float>((float*)values[layer] + offset, hd));
            }
            else
            {
                ushort* kb = (ushort*)keys[layer] + offset, vb = (ushort*)values[layer] + offset;
                for (var d = 0; d < hd; d++)
                {
                    kb[d] = Bf16.FromFloat(k[g * hd + d]);
                    vb[d] = Bf16.FromFloat(v[g * hd + d]);
                }
            }
        }
    }

    /// <summary>softmax(q·Kᵀ/√hd)·V over positions 0…pos for every query head (no mask: one row sees every cached key).</summary>
    void Attend(int layer, float* q, int pos, float* output, GemvIsa isa)
    {
        var es = PackedMatrix.ElementSize(kvFormat);
        var n = pos + 1;
        for (var head = 0; head < nh; head++)
        {
            var g = head / rep;
            byte* K = keys[layer] + (long)g * Capacity * hd * es, V = values[layer] + (long)g * Capacity * hd * es;
            float* qh = q + head * hd, y = output + head * hd;
            var top = float.NegativeInfinity;
            for (var t = 0; t < n; t++)
            {
                var row = K + (long)t * hd * es;
                var sc = (kvFormat == PackedFormat.Fp32 ? Gemv.Dot<Fp32Row>(row, qh, hd, isa) : Gemv.Dot<Bf16Row>(row, qh, hd, isa)) * scale;
                scores[t] = sc;
                top = Math.Max(top, sc);
            }
            var total = 0f;
            for (var t = 0; t < n; t++) total += scores[t] = MathF.Exp(scores[t] - top);
            new Span<float>(y, hd).Clear();
            for (var t = 0; t < n; t++)
            {
                var row = V + (long)t * hd * es;
                var p = scores[t] / total;
                if (kvFormat == PackedFormat.Fp32) Gemv.Axpy<Fp32Row>(p, row, y, hd, isa);
                else Gemv.Axpy<Bf16Row>(p, row, y, hd, isa);
            }
        }
    }

    static void Add(float* a, float* b, int n)
    {
        for (var i = 0; i < n; i++) a[i] += b[i];
    }

    /// <summary>Resizes the cache (keeping the cached positions), the RoPE rows and the score buffer to <paramref name="capacity"/>.</summary>
    void Grow(int capacity)
    {
        var es = PackedMatrix.ElementSize(kvFormat);
        for (var l = 0; l < layers; l++)
        {
            keys[l] = Regrow(keys[l], capacity, es);
            values[l] = Regrow(values[l], capacity, es);
        }
        ropeCos = RopeRows(w.RopeCos, ropeCos, capacity);
        ropeSin = RopeRows(w.RopeSin, ropeSin, capacity);
        Free(scores);
        scores = Floats(capacity);
        Capacity = capacity;
    }

    byte* Regrow(byte* old, int capacity, int es)
    {
        var grown = (byte*)Alloc((long)nkv * capacity * hd * es);
        if (old is not null)
        {
            for (var g = 0; g < nkv; g++)
                Buffer.MemoryCopy(old + (long)g * Capacity * hd * es, grown + (long)g * capacity * hd * es,
                                  (long)capacity * hd * es, Length * hd * es);
            Free(old);
        }
        return grown;
    }

    float* RopeRows(Tensor table, float* old, int capacity)
    {
        Free(old);
        var rows = Floats(capacity * hd);
        using var scope = NewDisposeScope();
        var src = table.narrow(0, 0, capacity).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        Marshal.Copy(src, 0, (nint)rows, src.Length);
        return rows;
    }

    float* Floats(long count) => (float*)Alloc(count * sizeof(float));

    void* Alloc(long bytes)
    {
        var p = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
        NativeMemory.Clear(p, (nuint)Math.Max(bytes, 64));
        allocations.Add((nint)p);
        return p;
    }

    void Free(void* p)
    {
        if (p is null) return;
        allocations.Remove((nint)p);
        NativeMemory.AlignedFree(p);
    }

    public void Dispose()
    {
        foreach (var p in allocations) NativeMemory.AlignedFree((void*)p);
        allocations.Clear();
        GC.SuppressFinalize(this);
    }

    ~PackedDecoder() => Dispose();
}
