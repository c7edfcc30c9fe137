using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

// A stand-in with MiniMind's state-dict names and shapes (no forward), for loader tests only; the real model
// classes live in src/Model. Field names are the state-dict keys, so they break C# naming on purpose.
#pragma warning disable IDE0044, CA1051

/// <summary>Shapes of a MiniMind dense model; <see cref="DenseTiny"/> matches the dense_tiny fixture.</summary>
internal sealed record TinyConfig(int Vocab, int Hidden, int Layers, int Heads, int KvHeads, int Intermediate)
{
    public static TinyConfig DenseTiny { get; } = new(6400, 64, 2, 4, 2, 192);
    public int HeadDim => Hidden / Heads;
}

internal sealed class TinyRmsNorm : nn.Module<Tensor, Tensor>
{
    public Parameter weight;
    public TinyRmsNorm(int dim) : base("RMSNorm") { weight = new Parameter(torch.ones(dim)); RegisterComponents(); }
    public override Tensor forward(Tensor x) => x;
}

internal sealed class TinyAttention : nn.Module<Tensor, Tensor>
{
    public Linear q_proj, k_proj, v_proj, o_proj;
    public TinyAttention(TinyConfig c) : base("Attention")
    {
        q_proj = nn.Linear(c.Hidden, c.Heads * c.HeadDim, hasBias: false);
        k_proj = nn.Linear(c.Hidden, c.KvHeads * c.HeadDim, hasBias: false);
        v_proj = nn.Linear(c.Hidden, c.KvHeads * c.HeadDim, hasBias: false);
        o_proj = nn.Linear(c.Heads * c.HeadDim, c.Hidden, hasBias: false);
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => x;
}

internal sealed class TinyFeedForward : nn.Module<Tensor, Tensor>
{
    public Linear gate_proj, down_proj, up_proj;
    public TinyFeedForward(TinyConfig c) : base("FeedForward")
    {
        gate_proj = nn.Linear(c.Hidden, c.Intermediate, hasBias: false);
        down_proj = nn.Linear(c.Intermediate, c.Hidden, hasBias: false);
        up_proj = nn.Linear(c.Hidden, c.Intermediate, hasBias: false);
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => x;
}

internal sealed class TinyBlock : nn.Module<Tensor, Tensor>
{
    public TinyAttention self_attn;
    public TinyRmsNorm input_layernorm, post_attention_layernorm;
    public TinyFeedForward mlp;
    public TinyBlock(TinyConfig c) : base("MiniMindBlock")
    {
        self_attn = new TinyAttention(c);
        input_layernorm = new TinyRmsNorm(c.Hidden);
        post_attention_layernorm = new TinyRmsNorm(c.Hidden);
        mlp = new TinyFeedForward(c);
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => x;
}

internal sealed class TinyModel : nn.Module<Tensor, Tensor>
{
    public Embedding embed_tokens;
    public ModuleList<TinyBlock> layers;
    public TinyRmsNorm norm;
    public TinyModel(TinyConfig c) : base("MiniMindModel")
    {
        embed_tokens = nn.Embedding(c.Vocab, c.Hidden);
        layers = nn.ModuleList(Enumerable.Range(0, c.Layers).Select(_ => new TinyBlock(c)).ToArray());
        norm = new TinyRmsNorm(c.Hidden);
        register_buffer("freqs_cos", torch.zeros(8, c.HeadDim), persistent: false); // as MiniMind: not in the state dict
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => x;
}

/// <summary>MiniMindForCausalLM's layout: <c>model</c>, then <c>lm_head</c>, tied the MiniMind way
/// (<c>model.embed_tokens.weight = lm_head.weight</c>) unless <paramref name="tie"/> is false.</summary>
internal sealed class TinyMiniMind : nn.Module<Tensor, Tensor>
{
    public TinyModel model;
    public Linear lm_head;
    public TinyMiniMind(TinyConfig c, bool tie = true) : base("MiniMindForCausalLM")
    {
        model = new TinyModel(c);
        lm_head = nn.Linear(c.Hidden, c.Vocab, hasBias: false);
        if (tie) model.embed_tokens.weight = lm_head.weight;
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => x;
}
