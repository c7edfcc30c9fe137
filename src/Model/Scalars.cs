using TorchSharp;

namespace MiniMind.Model;

/// <summary>
/// Scalars that live for the whole process. TorchSharp turns every number it is given where it takes a
/// <see cref="Scalar"/> (<c>t * 2.0</c>, <c>t.pow(2)</c>, and <c>a + b</c>, which is <c>add(b, alpha: 1)</c>) into a new
/// native Scalar that nothing references during the native call: the GC may finalise it mid-call, and libtorch then
/// reads freed memory ("toFloat at c10/core/Scalar.h:140", dotnet/TorchSharp#1434, #1496). So tensor code in this
/// project never converts implicitly: constants come from here, and a per-call value is made with
/// <c>using var s = value.ToScalar();</c> so that it lives until the call returns (ScalarLifetimeTests scans for it).
/// Each is made exactly as the implicit conversion of the same literal would be (an int stays an integral Scalar), so
/// results are bit for bit the same.
/// </summary>
public static class Scalars
{
    /// <summary>0 (integral): <c>eq(0)</c>, <c>masked_fill(mask, 0)</c>.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>1 (integral): the alpha of <c>a + b</c>, the value of <c>eq(1)</c>, the divisor of a count.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>2 (integral): the exponent of <c>pow(2)</c>.</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>1.0 (floating): <c>1.0 - t</c>, <c>1.0 / t</c>.</summary>
    public static readonly Scalar OneDouble = 1.0.ToScalar();

    /// <summary>−∞: the causal mask's fill.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary>1e-20: MoEGate's guard in the top-k renormalisation.</summary>
    public static readonly Scalar Tiny = 1e-20.ToScalar();

    /// <summary>−1e9: the padding mask's additive value.</summary>
    public static readonly Scalar MinusOneBillion = (-1e9).ToScalar();
}
