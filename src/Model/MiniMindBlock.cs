using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>One pre-norm transformer block:
/// h = x + attn(input_layernorm(x)); out = h + mlp(post_attention_layernorm(h)).</summary>
public sealed class MiniMindBlock : nn.Module<Tensor, DecoderContext, LayerKV?, (Tensor hidden, LayerKV? present)>
{
    // Declared in MiniMind's state_dict order (self_attn before input_layernorm), not in call order.
    readonly Attention self_attn;
    readonly RMSNorm input_layernorm;
    readonly RMSNorm post_attention_layernorm;
    readonly nn.Module<Tensor, Tensor> mlp;                                   // FeedForward or MOEFeedForward

    public MiniMindBlock(MiniMindConfig config) : base(nameof(MiniMindBlock))
    {
        self_attn = new Attention(config);
        input_layernorm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new RMSNorm(config.HiddenSize, config.RmsNormEps);
        mlp = config.UseMoe ? new MOEFeedForward(config) : new FeedForward(config);
        RegisterComponents();
    }

    /// <summary>The block for one token's vector (h), its key and value going into <paramref name="cache"/>.</summary>
    public Tensor DecodeOne(Tensor x, TokenDecode step, LayerBuffers cache)
    {
        var h = x.add(self_attn.DecodeOne(input_layernorm.DecodeOne(x), step, cache), step.One);
        return h.add(((IDecodeOne)mlp).DecodeOne(post_attention_layernorm.DecodeOne(h)), step.One);
    }

    /// <summary>The MoE layer's aux loss of the last forward, or null for a dense block.</summary>
    public Tensor? AuxLoss => (mlp as MOEFeedForward)?.AuxLoss;

    public override (Tensor hidden, LayerKV? present) forward(Tensor x, DecoderContext ctx, LayerKV? past)
    {
        using var scope = NewDisposeScope();
        var (attn, present) = self_attn.call(input_layernorm.call(x), ctx, past);
        var h = attn.add(x, Scalars.One);                                    // MiniMind: hidden_states += residual
        var output = h.add(mlp.call(post_attention_layernorm.call(h)), Scalars.One);
        AuxLoss?.MoveToOuterDisposeScope();
        if (present is not null)
        {
            present.k.MoveToOuterDisposeScope();
            present.v.MoveToOuterDisposeScope();
        }
        return (output.MoveToOuterDisposeScope(), present);
    }
}
