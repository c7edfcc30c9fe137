using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Inference;

/// <summary>Packing (bf16 rounding, int8 per-row scales) and the GEMV kernels against a float64 reference, on odd
/// sizes (SIMD tails) and every SIMD path this CPU runs, forced through <see cref="Gemv.Isa"/>.</summary>
[Collection(GemvIsaCollection.Name)]
public class GemvTests(ITestOutputHelper output)
{
    static float[] Random(int n, int seed, float spread = 1f)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * spread * (rng.Next(10) == 0 ? 8f : 1f))];
    }

    public static TheoryData<GemvIsa> Paths() => [.. Enum.GetValues<GemvIsa>().Where(i => i <= Gemv.Best)];

    [Fact]
    public void Bf16_rounding_matches_torch_bit_for_bit()
    {
        var values = Random(4099, 1, 100f).Concat([0f, -0f, 1f, 1.00390625f, 1.01171875f, float.MaxValue, 1e-40f, float.PositiveInfinity]).ToArray();
        using var scope = NewDisposeScope();
        // bf16 → fp32 is exact, so the top 16 bits of torch's round trip are its bf16 bits.
        var reference = tensor(values).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32).data<float>().ToArray()
            .Select(f => (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)).ToArray();
        for (var i = 0; i < values.Length; i++) Assert.True(reference[i] == Bf16.FromFloat(values[i]), $"{values[i]:R}: torch {reference[i]:X4}, ours {Bf16.FromFloat(values[i]):X4}");
        Assert.Equal(0x3F80, Bf16.FromFloat(1.00390625f));                   // a tie rounds to even (down)
        Assert.Equal(0x3F82, Bf16.FromFloat(1.01171875f));                   // a tie rounds to even (up)
    }

    [Theory]
    [InlineData(PackedFormat.Fp32)]
    [InlineData(PackedFormat.Bf16)]
    [InlineData(PackedFormat.Int8)]
    public void Round_trip_error_is_within_the_format_bound(PackedFormat format)
    {
        const int rows = 37, cols = 53;
        var w = Random(rows * cols, 2);
        for (var k = 0; k < cols; k++) w[5 * cols + k] = 0;                 // an all-zero row: scale 0, no NaN
        using var m = PackedMatrix.Pack(w, rows, cols, format);
        var back = m.Dequantise();
        double worst = 0;
        for (var r = 0; r < rows; r++)
        {
            var amax = Enumerable.Range(0, cols).Max(k => Math.Abs(w[r * cols + k]));
            for (var k = 0; k < cols; k++)
            {
                var (v, e) = (w[r * cols + k], Math.Abs(w[r * cols + k] - back[r * cols + k]));
                var bound = format switch
                {
                    PackedFormat.Fp32 => 0,
                    PackedFormat.Bf16 => Math.Abs(v) / 256,                   // half an ulp of a 8-bit significand
                    _ => amax / 254 * (1 + 1e-5) + 1e-7,                        // half a quantisation step of the row
                };
                Assert.True(e <= bound, $"[{r},{k}] {v} → {back[r * cols + k]}: error {e} > {bound}");
                if (amax > 0) worst = Math.Max(worst, e / amax);
            }
        }
        Assert.All(back.Skip(5 * cols).Take(cols), v => Assert.Equal(0f, v));
        Assert.Equal((long)rows * cols * PackedMatrix.ElementSize(format) + (format == PackedFormat.Int8 ? rows * 4 : 0), m.Bytes);
        output.WriteLine($"{format}: worst |w − deq(q(w))| / max|row| = {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Kernels_equal_a_reference_matmul_on_odd_sizes(GemvIsa isa)
    {
        var saved = Gemv.Isa;
        try
        {
            Gemv.Isa = isa;
            Assert.Equal(isa, Gemv.Isa);
            foreach (var format in Enum.GetValues<PackedFormat>())
                foreach (var (rows, cols) in new[] { (37, 53), (8, 16), (5, 67), (3, 1), (70, 129), (301, 517) })
                    foreach (var m in new[] { 1, 3, 4, 5, 9 })
                        foreach (var threads in new[] { 1, 2 })
                            Check(format, rows, cols, m, threads, isa);
        }
        finally
        {
            Gemv.Isa = saved;
        }
    }

    void Check(PackedFormat format, int rows, int cols, int m, int threads, GemvIsa isa)
    {
        using var w = PackedMatrix.Pack(Random(rows * cols, rows * 31 + cols), rows, cols, format);
        var x = Random(m * cols, 7 + m);
        var y = new float[m * rows];
        Gemv.Multiply(w, x, m, y, threads);
        var deq = w.Dequantise();                                           // what the kernel multiplies with
        for (var i = 0; i < m; i++)
            for (var r = 0; r < rows; r++)
            {
                double exact = 0, magnitude = 0;
                for (var k = 0; k < cols; k++)
                {
                    exact += (double)deq[r * cols + k] * x[i * cols + k];
                    magnitude += Math.Abs((double)deq[r * cols + k] * x[i * cols + k]);
                }
                var error = Math.Abs(y[i * rows + r] - exact);
                Assert.True(error <= 1e-5 * magnitude + 1e-6,
                    $"{isa} {format} ({rows}×{cols}) m={m} threads={threads} y[{i},{r}] = {y[i * rows + r]} vs {exact}");
            }
    }

    [Fact]
    public void A_wider_path_than_the_cpu_runs_is_clamped()
    {
        var saved = Gemv.Isa;
        try
        {
            Gemv.Isa = GemvIsa.Avx512;
            Assert.Equal(Gemv.Best, Gemv.Isa);
            Gemv.Isa = GemvIsa.Scalar;
            Assert.Equal(GemvIsa.Scalar, Gemv.Isa);
        }
        finally
        {
            Gemv.Isa = saved;
        }
        output.WriteLine($"this CPU: {Gemv.Best}");
    }
}

/// <summary>Tests that switch the process-wide <see cref="Gemv.Isa"/> run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GemvIsaCollection
{
    public const string Name = "Gemv.Isa";
}
