using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Rotary position embedding in the rotate-half (GPT-NeoX / HF Llama) form (not interleaved pairs), applied
/// to q and k before they enter the KV cache.</summary>
public static class Rope
{
    /// <summary>cos and sin tables [end, dim]: inv = 1/θ^(arange(0,dim,2)/dim), angles = t ⊗ inv,
    /// cos = cat([cos(angles), cos(angles)], -1) and likewise sin.</summary>
    public static (Tensor cos, Tensor sin) Precompute(int dim, int end, double theta)
    {
        using var scope = NewDisposeScope();
        using Scalar zero = 0.ToScalar(), stop = dim.ToScalar(), last = end.ToScalar(), divisor = dim.ToScalar();
        var exponents = arange(zero, stop, Scalars.Two, dtype: ScalarType.Int64)[..(dim / 2)].to_type(ScalarType.Float32).div(divisor);
        var invFreq = tensor((float)theta).pow(exponents).reciprocal().mul(Scalars.OneDouble);  // 1.0 / θ^e, (dim/2)
        var t = arange(zero, last, Scalars.One, dtype: ScalarType.Int64).to_type(ScalarType.Float32);
        var angles = outer(t, invFreq);                                      // (end, dim/2)
        var cos = cat([angles.cos(), angles.cos()], -1);                     // (end, dim)
        var sin = cat([angles.sin(), angles.sin()], -1);                     // (end, dim)
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin for one position, x (heads, hd), rotate_half as a matmul with P.</summary>
    public static Tensor ApplyOne(Tensor x, TokenDecode step) => (x * step.Cos).addcmul_(x.matmul(step.Rotate), step.Sin, step.One);

    /// <summary>rotate_half(x) = cat([-x[..., d/2:], x[..., :d/2]]).</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        using var lo = x[TensorIndex.Ellipsis, TensorIndex.Slice(0, half)];
        using var hi = x[TensorIndex.Ellipsis, TensorIndex.Slice(half, null)];
        using var neg = hi.neg();
        return cat([neg, lo], -1);
    }

    /// <summary>x' = x·cos + rotate_half(x)·sin for x (B, T, heads, hd) and cos/sin (T, hd).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var c = cos.unsqueeze(1);                                      // (T, 1, hd)
        using var s = sin.unsqueeze(1);
        using var rotated = RotateHalf(x);
        using var a = x * c;
        using var b = rotated * s;
        return a.add(b, Scalars.One);
    }
}
