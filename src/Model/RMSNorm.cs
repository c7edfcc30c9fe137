using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>RMSNorm: weight · (x.float() · rsqrt(mean(x², -1) + eps)).type_as(x).
/// The normalisation runs in float32 and the weight is multiplied last.</summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>, IDecodeOne
{
    readonly Scalar eps;                                                     // made once, disposed with the module
    readonly Parameter weight;

    public RMSNorm(long dim, double eps = 1e-5) : base(nameof(RMSNorm))
    {
        this.eps = eps.ToScalar();
        weight = nn.Parameter(torch.ones(dim));
        RegisterComponents();
    }

    static readonly long[] Last = [-1L];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to_type(ScalarType.Float32);
        var normed = xf * torch.rsqrt(xf.pow(Scalars.Two).mean(Last, keepdim: true).add(eps, Scalars.One));
        return (weight * normed.type_as(x)).MoveToOuterDisposeScope();
    }

    /// <summary>The same in float32 for one vector (h): weight · (x · rsqrt(mean(x²) + eps)).</summary>
    public Tensor DecodeOne(Tensor x) =>
        (x * x.pow(Scalars.Two).mean(Last, keepdim: true).add_(eps, Scalars.One).rsqrt_()).mul_(weight);

    protected override void Dispose(bool disposing)
    {
        if (disposing) eps.Dispose();
        base.Dispose(disposing);
    }
}
