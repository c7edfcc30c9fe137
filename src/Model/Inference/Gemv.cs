using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MiniMind.Model;

/// <summary>The SIMD width of the <see cref="Gemv"/> kernels.</summary>
public enum GemvIsa
{
    /// <summary>Plain C# loops (any CPU).</summary>
    Scalar,
    /// <summary>256-bit AVX2 + FMA, 8 floats a vector.</summary>
    Avx2,
    /// <summary>512-bit AVX-512F, 16 floats a vector.</summary>
    Avx512,
}

/// <summary>
/// y = x·Wᵀ for a <see cref="PackedMatrix"/> W and a few input rows x (batch-1 decode: one; prefill: a chunk),
/// on the CPU. The weights are widened to float32 in registers (bf16: a 16-bit shift; int8: sign-extend, convert, and
/// the row's scale applied once to the dot product) and multiplied with float32 inputs, accumulating in float32.
/// Output rows are split into contiguous ranges, one per thread, so each thread streams its own slice of the weights:
/// at batch 1 the kernel is bound by memory bandwidth, and the fewer bytes an element, the faster.
/// Up to four input rows share one pass over a weight row.
/// </summary>
public static unsafe class Gemv
{
    /// <summary>The widest path this CPU runs.</summary>
    public static GemvIsa Best { get; } =
        Avx512F.IsSupported ? GemvIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? GemvIsa.Avx2 : GemvIsa.Scalar;

    /// <summary>The path in use (tests force the narrower ones); a value wider than <see cref="Best"/> is clamped.</summary>
    public static GemvIsa Isa
    {
        get => isa;
        set => isa = (GemvIsa)Math.Min((int)value, (int)Best);
    }

    static GemvIsa isa = Best;

    /// <summary>Work below this many multiply-adds per thread is not split (a split costs a few microseconds).</summary>
    const long MinWorkPerThread = 1 << 16;

    /// <summary>y (m, W.Rows) = x (m, W.Cols) · Wᵀ, both row-major and contiguous, over up to <paramref name="threads"/> threads.</summary>
    public static void Multiply(PackedMatrix w, float* x, int m, float* y, int threads)
    {
        ObjectDisposedException.ThrowIf(w.Data is null, w);
        var parts = (int)Math.Clamp((long)w.Rows * w.Cols * m / MinWorkPerThread, 1, Math.Max(1, threads));
        parts = Math.Min(parts, w.Rows);
        if (parts == 1)
        {
            Rows(w, x, m, y, 0, w.Rows);
            return;
        }
        nint xp = (nint)x, yp = (nint)y;
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
        {
            var r0 = (int)((long)w.Rows * p / parts);
            var r1 = (int)((long)w.Rows * (p + 1) / parts);
            Rows(w, (float*)xp, m, (float*)yp, r0, r1);
        });
    }

    /// <summary>Safe overload for tests and one-off calls: x (m·cols), y (m·rows).</summary>
    public static void Multiply(PackedMatrix w, ReadOnlySpan<float> x, int m, Span<float> y, int threads = 1)
    {
        if (x.Length < (long)m * w.Cols || y.Length < (long)m * w.Rows) throw new ArgumentException("x or y is too short");
        fixed (float* xp = x)
        fixed (float* yp = y)
            Multiply(w, xp, m, yp, threads);
    }

    static void Rows(PackedMatrix w, float* x, int m, float* y, int r0, int r1)
    {
        switch (w.Format)
        {
            case PackedFormat.Fp32: Rows<Fp32Row>(w, x, m, y, r0, r1); break;
            case PackedFormat.Bf16: Rows<Bf16Row>(w, x, m, y, r0, r1); break;
            default: Rows<Int8Row>(w, x, m, y, r0, r1); break;
        }
    }

    static void Rows<TW>(PackedMatrix w, float* x, int m, float* y, int r0, int r1) where TW : struct, IWeights
    {
        int K = w.Cols, N = w.Rows;
        var isa = Isa;
        var scales = w.Scales;
        for (var r = r0; r < r1; r++)
        {
            var row = w.Row(r);
            var scale = scales is null ? 1f : scales[r];
            var i = 0;
            for (; i + 4 <= m; i += 4)
            {
                var x0 = x + (long)i * K;
                var (s0, s1, s2, s3) = Dot4<TW>(row, x0, x0 + K, x0 + 2 * K, x0 + 3 * K, K, isa);
                y[(long)i * N + r] = s0 * scale;
                y[(long)(i + 1) * N + r] = s1 * scale;
                y[(long)(i + 2) * N + r] = s2 * scale;
                y[(long)(i + 3) * N + r] = s3 * scale;
            }
            for (; i < m; i++) y[(long)i * N + r] = Dot<TW>(row, x + (long)i * K, K, isa) * scale;
        }
    }

    /// <summary>Σ_k w_k·x_k over one stored row (unscaled).</summary>
    internal static float Dot<TW>(byte* row, float* x, int K, GemvIsa isa) where TW : struct, IWeights
    {
        var k = 0;
        var sum = 0f;
        if (isa == GemvIsa.Avx512)
        {
            Vector512<float> a0 = Vector512<float>.Zero, a1 = Vector512<float>.Zero;
            for (; k + 32 <= K; k += 32)
            {
                a0 = Avx512F.FusedMultiplyAdd(TW.Load16(row, k), Vector512.Load(x + k), a0);
                a1 = Avx512F.FusedMultiplyAdd(TW.Load16(row, k + 16), Vector512.Load(x + k + 16), a1);
            }
            for (; k + 16 <= K; k += 16) a0 = Avx512F.FusedMultiplyAdd(TW.Load16(row, k), Vector512.Load(x + k), a0);
            sum = Vector512.Sum(a0 + a1);
        }
        else if (isa == GemvIsa.Avx2)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = Vector256<float>.Zero;
            for (; k + 16 <= K; k += 16)
            {
                a0 = Fma.MultiplyAdd(TW.Load8(row, k), Vector256.Load(x + k), a0);
                a1 = Fma.MultiplyAdd(TW.Load8(row, k + 8), Vector256.Load(x + k + 8), a1);
            }
            for (; k + 8 <= K; k += 8) a0 = Fma.MultiplyAdd(TW.Load8(row, k), Vector256.Load(x + k), a0);
            sum = Vector256.Sum(a0 + a1);
        }
        for (; k < K; k++) sum += TW.Load1(row, k) * x[k];
        return sum;
    }

    static (float, float, float, float) Dot4<TW>(byte* row, float* x0, float* x1, float* x2, float* x3, int K, GemvIsa isa)
        where TW : struct, IWeights
    {
        var k = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (isa == GemvIsa.Avx512)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; k + 16 <= K; k += 16)
            {
                var wv = TW.Load16(row, k);
                a0 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x0 + k), a0);
                a1 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x1 + k), a1);
                a2 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x2 + k), a2);
                a3 = Avx512F.FusedMultiplyAdd(wv, Vector512.Load(x3 + k), a3);
            }
            (s0, s1, s2, s3) = (Vector512.Sum(a0), Vector512.Sum(a1), Vector512.Sum(a2), Vector512.Sum(a3));
        }
        else if (isa == GemvIsa.Avx2)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; k + 8 <= K; k += 8)
            {
                var wv = TW.Load8(row, k);
                a0 = Fma.MultiplyAdd(wv, Vector256.Load(x0 + k), a0);
                a1 = Fma.MultiplyAdd(wv, Vector256.Load(x1 + k), a1);
                a2 = Fma.MultiplyAdd(wv, Vector256.Load(x2 + k), a2);
                a3 = Fma.MultiplyAdd(wv, Vector256.Load(x3 + k), a3);
            }
            (s0, s1, s2, s3) = (Vector256.Sum(a0), Vector256.Sum(a1), Vector256.Sum(a2), Vector256.Sum(a3));
        }
        for (; k < K; k++)
        {
            var wk = TW.Load1(row, k);
            s0 += wk * x0[k];
            s1 += wk * x1[k];
            s2 += wk * x2[k];
            s3 += wk * x3[k];
        }
        return (s0, s1, s2, s3);
    }

    /// <summary>y += a·row (n elements of one stored row, unscaled): the attention's probability-weighted sum of values.</summary>
    internal static void Axpy<TW>(float a, byte* row, float* y, int n, GemvIsa isa) where TW : struct, IWeights
    {
        var k = 0;
        if (isa == GemvIsa.Avx512)
        {
            var av = Vector512.Create(a);
            for (; k + 16 <= n; k += 16) Avx512F.FusedMultiplyAdd(av, TW.Load16(row, k), Vector512.Load(y + k)).Store(y + k);
        }
        else if (isa == GemvIsa.Avx2)
        {
            var av = Vector256.Create(a);
            for (; k + 8 <= n; k += 8) Fma.MultiplyAdd(av, TW.Load8(row, k), Vector256.Load(y + k)).Store(y + k);
        }
        for (; k < n; k++) y[k] += a * TW.Load1(row, k);
    }
}

/// <summary>Widens stored weights to float32: 16 (AVX-512), 8 (AVX2) or 1 at element offset k of a row.
/// Static abstract members let the JIT compile one specialised kernel per format.</summary>
unsafe interface IWeights
{
    static abstract Vector512<float> Load16(byte* row, int k);
    static abstract Vector256<float> Load8(byte* row, int k);
    static abstract float Load1(byte* row, int k);
}

unsafe struct Fp32Row : IWeights
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) => Vector512.Load((float*)row + k);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) => Vector256.Load((float*)row + k);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => ((float*)row)[k];
}

unsafe struct Bf16Row : IWeights
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)row + k)), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)row + k), 16).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => Bf16.ToFloat(((ushort*)row)[k]);
}

unsafe struct Int8Row : IWeights
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load16(byte* row, int k) =>
        Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)row + k)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load8(byte* row, int k) =>
        Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32((sbyte*)row + k));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load1(byte* row, int k) => ((sbyte*)row)[k];
}
