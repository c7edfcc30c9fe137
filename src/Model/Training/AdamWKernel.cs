using System.Numerics;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Training;

/// <summary>
/// The AdamW update of one float32 parameter in two passes over its memory and one libtorch sqrt, instead of TorchSharp's
/// nine ops (mul_, mul_, add_, mul_, addcmul_, sqrt, div, add_, addcdiv_), each of which streams whole parameter-sized
/// tensors: ~22 tensor reads and writes per parameter become 13. TorchSharp 0.107 has no fused or foreach AdamW and no
/// <c>torch._foreach_*</c> ops.
/// Per element it computes what libtorch's vectorised CPU kernels compute, in their order and float32 rounding (probed
/// element by element against libtorch 2.10: add with alpha and addcmul are fused multiply-adds, a division by a scalar is
/// a true division, addcdiv is self + (value·t1)/t2). libtorch's sqrt is not correctly rounded (~0.7 % of elements differ
/// from an IEEE square root), so the square root stays libtorch's own op between the passes:
///   pass 1: p ← p·decay;  m ← fma(g, 1−β₁, m·β₁);  v ← fma((1−β₂)·g, g, v·β₂)
///   libtorch: s ← sqrt(v)
///   pass 2: p ← p + ((−lr/bc₁)·m) / (s / √bc₂ + ε)
/// so it is bit for bit TorchSharp's AdamW (AdamWTests). Element-wise, so independent of the chunking and thread count.
/// </summary>
public static class AdamWKernel
{
    public readonly record struct Coefficients(float Decay, float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
                                               float SqrtBiasCorrection2, float Eps, float MinusStepSize);

    const int Chunk = 1 << 16;

    static readonly Func<IntPtr, IntPtr> dataPointer = typeof(Tensor).Assembly.GetType("TorchSharp.PInvoke.NativeMethods")
        ?.GetMethod("THSTensor_data", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        ?.CreateDelegate<Func<IntPtr, IntPtr>>()
        ?? throw new MissingMethodException("TorchSharp.PInvoke.NativeMethods.THSTensor_data");

    /// <summary>True when every tensor is a contiguous float32 CPU tensor of the same size (the one-pass loop's case).</summary>
    public static bool Fits(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq)
    {
        var n = param.numel();
        foreach (var t in (ReadOnlySpan<Tensor>)[param, grad, expAvg, expAvgSq])
            if (t.dtype != ScalarType.Float32 || t.device_type != DeviceType.CPU || !t.is_contiguous() || t.numel() != n) return false;
        return true;
    }

    /// <summary>Updates <paramref name="param"/>, <paramref name="expAvg"/> and <paramref name="expAvgSq"/> in place
    /// (they must <see cref="Fits"/>), in chunks of 64 Ki elements spread over <paramref name="threads"/> .NET threads.
    /// Default 1: bench fuse --what optimizer measured 2 threads slower than 1 on the shared 2-core machine (libtorch's
    /// OpenMP threads still spin after the preceding ops and compete with .NET's workers): ops 5,601 ms, 1 thread 1,579,
    /// 2 threads 2,008 (median, minimind2-small, load 21–38).</summary>
    public static unsafe void Update(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Coefficients c, int? threads = null)
    {
        var n = param.numel();
        if (n == 0) return;
        if (!Fits(param, grad, expAvg, expAvgSq)) throw new ArgumentException("AdamWKernel.Update needs contiguous float32 CPU tensors of one size");
        IntPtr p = dataPointer(param.Handle), g = dataPointer(grad.Handle), m = dataPointer(expAvg.Handle), v = dataPointer(expAvgSq.Handle);
        var workers = Math.Max(1, threads ?? 1);
        Chunked(n, workers, (start, end) => Moments((float*)p, (float*)g, (float*)m, (float*)v, start, end, c));
        using var sqrt = expAvgSq.sqrt();
        var s = dataPointer(sqrt.Handle);
        Chunked(n, workers, (start, end) => Apply((float*)p, (float*)m, (float*)s, start, end, c));
    }

    static void Chunked(long n, int workers, Action<long, long> body)
    {
        var chunks = (int)((n + Chunk - 1) / Chunk);
        if (chunks == 1 || workers == 1)
        {
            body(0, n);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            long start = (long)i * Chunk;
            body(start, Math.Min(n, start + Chunk));
        });
    }

    /// <summary>Pass 1: weight decay and both moments.</summary>
    static unsafe void Moments(float* p, float* g, float* m, float* v, long start, long end, Coefficients c)
    {
        var i = start;
        var w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> decay = new(c.Decay), b1 = new(c.Beta1), omb1 = new(c.OneMinusBeta1), b2 = new(c.Beta2), omb2 = new(c.OneMinusBeta2);
            for (; i + w <= end; i += w)
            {
                var gi = Vector.Load(g + i);
                (Vector.Load(p + i) * decay).Store(p + i);
                Vector.FusedMultiplyAdd(gi, omb1, Vector.Load(m + i) * b1).Store(m + i);
                Vector.FusedMultiplyAdd(omb2 * gi, gi, Vector.Load(v + i) * b2).Store(v + i);
            }
        }
        for (; i < end; i++)
        {
            var gi = g[i];
            p[i] *= c.Decay;
            m[i] = MathF.FusedMultiplyAdd(gi, c.OneMinusBeta1, m[i] * c.Beta1);
            v[i] = MathF.FusedMultiplyAdd(c.OneMinusBeta2 * gi, gi, v[i] * c.Beta2);
        }
    }

    /// <summary>Pass 2: p ← p + (−step·m) / (√v / √bc₂ + ε), with √v from libtorch.</summary>
    static unsafe void Apply(float* p, float* m, float* s, long start, long end, Coefficients c)
    {
        var i = start;
        var w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<float> sqrtBc2 = new(c.SqrtBiasCorrection2), eps = new(c.Eps), step = new(c.MinusStepSize);
            for (; i + w <= end; i += w)
            {
                var denom = Vector.Load(s + i) / sqrtBc2 + eps;
                (Vector.Load(p + i) + step * Vector.Load(m + i) / denom).Store(p + i);
            }
        }
        for (; i < end; i++)
            p[i] += c.MinusStepSize * m[i] / (s[i] / c.SqrtBiasCorrection2 + c.Eps);
    }
}
