using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>A bias-free linear layer, y = x·Wᵀ, like MiniMind's <c>nn.Linear(..., bias=False)</c>, whose state key is
/// <c>weight</c> (out, in). The weight is the float32 master copy; with <see cref="ComputeDType"/> = bfloat16 the matmul
/// runs on bfloat16 casts of x and W and returns bfloat16 (TorchSharp has no autocast: this is ours).</summary>
public sealed class Projection : nn.Module<Tensor, Tensor>, IDecodeOne
{
    readonly Parameter weight;

    public Projection(long in_features, long out_features) : base(nameof(Projection))
    {
        InFeatures = in_features;
        OutFeatures = out_features;
        weight = nn.Parameter(empty(out_features, in_features));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));                   // torch.nn.Linear's default init
        RegisterComponents();
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }

    /// <summary>The (out, in) weight. Settable so that the embedding can share it (MiniMind ties lm_head and embed_tokens).</summary>
    public Parameter Weight => weight;

    /// <summary>Float32 (default): plain fp32 matmul. BFloat16: mixed precision with fp32 master weights.</summary>
    public ScalarType ComputeDType { get; set; } = ScalarType.Float32;

    /// <summary>y = W·x for a single vector x (in): a matrix-vector product (gemv), the op that streams the weights.
    /// Float32 only (single-token decoding).</summary>
    public Tensor DecodeOne(Tensor x) => weight.mv(x);

    public override Tensor forward(Tensor x) => Linear(x, weight, ComputeDType);

    /// <summary>This layer's arithmetic with another weight of the same shape (the chunked loss passes a detached alias
    /// of <see cref="Weight"/>, see <see cref="Losses.ChunkedMaskedCrossEntropy"/>).</summary>
    public Tensor Forward(Tensor x, Tensor w) => Linear(x, w, ComputeDType);

    static Tensor Linear(Tensor x, Tensor w, ScalarType computeDType)
    {
        if (computeDType == w.dtype) return F.linear(x, w);
        using var xc = x.to_type(computeDType);
        using var wc = w.to_type(computeDType);
        return F.linear(xc, wc);
    }
}
