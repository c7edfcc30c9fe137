using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>The backbone's output: final-norm hidden states (B, T, h), the new caches (null unless use_cache),
/// and the summed MoE aux loss (a scalar, 0 for dense models and in eval mode).</summary>
public sealed record ModelOutput(Tensor hidden, KVCache? past_key_values, Tensor aux_loss);

/// <summary>Embedding, the blocks and the final RMSNorm. The RoPE tables are non-persistent buffers:
/// they are not in the state_dict (README "State-dict keys").</summary>
public sealed class MiniMindModel : nn.Module<Tensor, ModelOutput>
{
    readonly Embedding embed_tokens;
    readonly Dropout dropout;
    readonly ModuleList<MiniMindBlock> layers;
    readonly RMSNorm norm;
    readonly RopeHolder rope;

    public MiniMindModel(MiniMindConfig config) : base(nameof(MiniMindModel))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        dropout = nn.Dropout(config.Dropout);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new MiniMindBlock(config)).ToArray());
        norm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        var (cos, sin) = Rope.Precompute(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta);
        rope = new RopeHolder(cos, sin);
        RegisterComponents();
    }

    internal Embedding EmbedTokens => embed_tokens;
    internal RMSNorm Norm => norm;

    /// <summary>One token through the embedding, every block (layer l's key and value into <paramref name="cache"/>[l])
    /// and the final norm: the hidden vector (h).</summary>
    public Tensor DecodeOne(long token, TokenDecode step, IReadOnlyList<LayerBuffers> cache)
    {
        var x = embed_tokens.weight!.select(0, token);                       // (h)
        for (var l = 0; l < layers.Count; l++) x = layers[l].DecodeOne(x, step, cache[l]);
        return norm.DecodeOne(x);
    }
    public IEnumerable<MiniMindBlock> Layers => layers;

    /// <summary>MiniMind's freqs_cos / freqs_sin, (max_position_embeddings, head_dim).</summary>
    public (Tensor cos, Tensor sin) RopeTables => (rope.cos, rope.sin);

    public override ModelOutput forward(Tensor input_ids) => forward(input_ids, null, null, false);

    public ModelOutput forward(Tensor input_ids, Tensor? attention_mask, KVCache? past_key_values, bool use_cache)
    {
        using var scope = NewDisposeScope();
        long T = input_ids.shape[1];
        var start = past_key_values?.Length ?? 0;                              // RoPE offset = cached length
        if (start + T > rope.cos.shape[0])
            throw new ArgumentException($"sequence of {start + T} positions exceeds max_position_embeddings {rope.cos.shape[0]}");
        rope.MoveTo(input_ids.device);
        var ctx = new DecoderContext(rope.cos[TensorIndex.Slice(start, start + T)], rope.sin[TensorIndex.Slice(start, start + T)],
                                     attention_mask, use_cache);

        var h = dropout.call(embed_tokens.call(input_ids));                   // (B, T, h)
        var presents = new List<LayerKV>();
        for (var i = 0; i < layers.Count; i++)
        {
            LayerKV? present;
            (h, present) = layers[i].call(h, ctx, past_key_values?[i]);
            if (present is not null) presents.Add(present);
        }
        h = norm.call(h);

        var aux = zeros([], dtype: h.dtype, device: h.device);
        foreach (var layer in layers)
            if (layer.AuxLoss is { } a) aux = aux.add(a, Scalars.One);

        var cache = use_cache ? new KVCache(presents).MoveToOuterDisposeScope() : null;
        return new ModelOutput(h.MoveToOuterDisposeScope(), cache, aux.MoveToOuterDisposeScope());
    }

    /// <summary>Holds the RoPE tables outside the module's field scan, so they never reach the state_dict
    /// (MiniMind registers them with persistent=False). Moved lazily to the input's device.</summary>
    sealed class RopeHolder(Tensor cos, Tensor sin)
    {
        public Tensor cos = cos, sin = sin;

        public void MoveTo(Device device)
        {
            if (cos.device_type == device.type && cos.device_index == device.index) return;
            cos = cos.to(device);
            sin = sin.to(device);
        }
    }
}
