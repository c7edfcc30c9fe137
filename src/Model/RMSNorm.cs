using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>RMSNorm, README item 2: weight · (x.float() · rsqrt(mean(x², -1) + eps)).type_as(x).
/// The normalisation runs in float32 and the weight is multiplied last.</summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    readonly double eps;
    readonly Parameter weight;

    public RMSNorm(long dim, double eps = 1e-5) : base(nameof(RMSNorm))
    {
        this.eps = eps;
        weight = nn.Parameter(torch.ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var xf = x.to_type(ScalarType.Float32);
        using var ms = xf.pow(2).mean([-1L], keepdim: true);
        using var normed = xf * torch.rsqrt(ms + eps);
        using var typed = normed.type_as(x);
        return weight * typed;
    }
}
