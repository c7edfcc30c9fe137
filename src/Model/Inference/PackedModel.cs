using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>One block's weights for <see cref="PackedDecoder"/>: q, k and v stacked into one matrix (rows q | k | v),
/// gate and up stacked (rows gate | up), o and down, and the two RMSNorm weights (float32).</summary>
public sealed record PackedLayer(PackedMatrix qkv, PackedMatrix o_proj, PackedMatrix gate_up, PackedMatrix down_proj,
                                 float[] input_layernorm, float[] post_attention_layernorm);

/// <summary>
/// A dense model's weights copied into <see cref="PackedMatrix"/>es of one <see cref="PackedFormat"/>, for the
/// batch-1 decode path of <c>--dtype bf16|int8</c> (<see cref="PackedDecoder"/>): the CPU kernels of <see cref="Gemv"/>
/// read these and never the torch parameters. The embedding is lm_head's packed matrix (they are tied), so a token's
/// embedding row carries the same rounding as lm_head. RMSNorm weights stay float32.
/// It is a snapshot: later changes to the module's parameters are not seen (pack after loading, and again after any change).
/// </summary>
public sealed class PackedModel : IDisposable
{
    PackedModel(MiniMindConfig config, PackedFormat format, IReadOnlyList<PackedLayer> layers, float[] norm, PackedMatrix lmHead,
                Tensor ropeCos, Tensor ropeSin)
    {
        Config = config;
        Format = format;
        Layers = layers;
        Norm = norm;
        LmHead = lmHead;
        RopeCos = ropeCos;
        RopeSin = ropeSin;
    }

    public MiniMindConfig Config { get; }
    public PackedFormat Format { get; }
    public IReadOnlyList<PackedLayer> Layers { get; }
    public float[] Norm { get; }
    public PackedMatrix LmHead { get; }

    /// <summary>The model's RoPE tables (max_position_embeddings, head_dim), float32 on the CPU, not owned (the model's own
    /// buffers); the decoder copies rows as positions are reached.</summary>
    internal Tensor RopeCos { get; }
    internal Tensor RopeSin { get; }

    /// <summary>Threads the kernels split output rows across. Default: torch's intra-op thread count at packing time.</summary>
    public int Threads { get; set; } = 1;

    /// <summary>Bytes of weights one decode step streams: every matrix once (the embedding row is negligible).</summary>
    public long StreamedBytes =>
        Layers.Sum(l => l.qkv.Bytes + l.o_proj.Bytes + l.gate_up.Bytes + l.down_proj.Bytes) + LmHead.Bytes;

    /// <summary>Why <paramref name="model"/> cannot be packed (null when it can): the packed decoder is dense, CPU, LoRA-free.</summary>
    public static string? Unsupported(MiniMindForCausalLM model)
    {
        if (model.Config.UseMoe) return "a MoE model";
        if (model.modules().OfType<LoRALayer>().Any()) return "a model with LoRA adapters";
        var device = model.parameters().First().device_type;
        return device == DeviceType.CPU ? null : $"a model on {device}";
    }

    /// <summary>Copies the model's weights into packed matrices (the model is left unchanged).</summary>
    public static PackedModel Pack(MiniMindForCausalLM model, PackedFormat format)
    {
        if (Unsupported(model) is { } why) throw new ArgumentException($"the packed decoder does not run {why}");
        var c = model.Config;
        var p = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        float[] Get(string name)
        {
            using var scope = NewDisposeScope();
            return p[name].detach().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        }
        PackedMatrix Stack(int cols, PackedFormat f, params string[] names)
        {
            var parts = names.Select(Get).ToArray();
            var all = parts.SelectMany(a => a).ToArray();
            return PackedMatrix.Pack(all, all.Length / cols, cols, f);
        }
        int h = c.HiddenSize, ffn = c.FfnSize, qd = c.NumAttentionHeads * c.HeadDim;
        var layers = new List<PackedLayer>();
        for (var l = 0; l < c.NumHiddenLayers; l++)
        {
            var pre = $"model.layers.{l}.";
            layers.Add(new PackedLayer(
                Stack(h, format, pre + "self_attn.q_proj.weight", pre + "self_attn.k_proj.weight", pre + "self_attn.v_proj.weight"),
                Stack(qd, format, pre + "self_attn.o_proj.weight"),
                Stack(h, format, pre + "mlp.gate_proj.weight", pre + "mlp.up_proj.weight"),
                Stack(ffn, format, pre + "mlp.down_proj.weight"),
                Get(pre + "input_layernorm.weight"), Get(pre + "post_attention_layernorm.weight")));
        }
        var lmHead = Stack(h, format, "model.embed_tokens.weight");             // = lm_head.weight (tied; listed once)
        var (cos, sin) = model.Model.RopeTables;
        return new PackedModel(c, format, layers, Get("model.norm.weight"), lmHead, cos, sin)
        {
            Threads = Math.Max(1, torch.get_num_threads()),
        };
    }

    public void Dispose()
    {
        foreach (var l in Layers)
        {
            l.qkv.Dispose();
            l.o_proj.Dispose();
            l.gate_up.Dispose();
            l.down_proj.Dispose();
        }
        LmHead.Dispose();
    }
}
