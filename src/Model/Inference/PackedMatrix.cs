using System.Runtime.InteropServices;

namespace MiniMind.Model;

/// <summary>How a <see cref="PackedMatrix"/> stores its elements.</summary>
public enum PackedFormat
{
    /// <summary>float32, 4 bytes an element.</summary>
    Fp32,
    /// <summary>bfloat16 (the top half of a float32, rounded to nearest even), 2 bytes an element.</summary>
    Bf16,
    /// <summary>int8 in [−127, 127] times one float32 scale per row (symmetric, per output channel), 1 byte an element.</summary>
    Int8,
}

/// <summary>
/// A weight matrix (rows = output channels, cols = inputs, row-major like a Linear's (out, in) weight) in native,
/// 64-byte-aligned memory that never moves, in one of the <see cref="PackedFormat"/>s. It is read by the
/// <see cref="Gemv"/> kernels, which stream each row once per call: at batch 1 the row bytes are what the decode step costs.
/// int8: scale_r = max_k |w_rk| / 127 and q_rk = round(w_rk / scale_r), so |w − q·scale| ≤ scale/2 elementwise.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    byte* data;
    float* scales;                                                           // int8 only: one per row

    PackedMatrix(int rows, int cols, PackedFormat format)
    {
        Rows = rows;
        Cols = cols;
        Format = format;
        data = (byte*)NativeMemory.AlignedAlloc((nuint)((long)rows * cols * ElementSize(format)), 64);
        if (format == PackedFormat.Int8) scales = (float*)NativeMemory.AlignedAlloc((nuint)(rows * sizeof(float)), 64);
    }

    public int Rows { get; }
    public int Cols { get; }
    public PackedFormat Format { get; }

    /// <summary>Bytes streamed by one pass over the matrix (elements plus int8 scales).</summary>
    public long Bytes => (long)Rows * Cols * ElementSize(Format) + (Format == PackedFormat.Int8 ? Rows * sizeof(float) : 0);

    public static int ElementSize(PackedFormat format) => format switch { PackedFormat.Fp32 => 4, PackedFormat.Bf16 => 2, _ => 1 };

    internal byte* Data => data;
    internal float* Scales => scales;
    internal byte* Row(int r) => data + (long)r * Cols * ElementSize(Format);

    /// <summary>Packs a row-major (rows, cols) float32 matrix.</summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> w, int rows, int cols, PackedFormat format)
    {
        if (w.Length != (long)rows * cols) throw new ArgumentException($"{w.Length} elements for a ({rows}, {cols}) matrix");
        var m = new PackedMatrix(rows, cols, format);
        for (var r = 0; r < rows; r++)
        {
            var src = w.Slice(r * cols, cols);
            switch (format)
            {
                case PackedFormat.Fp32:
                    src.CopyTo(new Span<float>(m.Row(r), cols));
                    break;
                case PackedFormat.Bf16:
                    var bf = (ushort*)m.Row(r);
                    for (var k = 0; k < cols; k++) bf[k] = Bf16.FromFloat(src[k]);
                    break;
                default:
                    float amax = 0;
                    foreach (var v in src) amax = Math.Max(amax, Math.Abs(v));
                    var scale = amax / 127f;
                    m.scales[r] = scale;
                    var q = (sbyte*)m.Row(r);
                    for (var k = 0; k < cols; k++)
                        q[k] = scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(src[k] / scale, MidpointRounding.ToEven), -127f, 127f);
                    break;
            }
        }
        return m;
    }

    /// <summary>Row <paramref name="r"/> as float32 (what the kernels multiply with).</summary>
    public void DequantiseRow(int r, Span<float> destination)
    {
        var row = Row(r);
        for (var k = 0; k < Cols; k++)
            destination[k] = Format switch
            {
                PackedFormat.Fp32 => ((float*)row)[k],
                PackedFormat.Bf16 => Bf16.ToFloat(((ushort*)row)[k]),
                _ => ((sbyte*)row)[k] * scales[r],
            };
    }

    /// <summary>The whole matrix as row-major float32.</summary>
    public float[] Dequantise()
    {
        var result = new float[(long)Rows * Cols];
        for (var r = 0; r < Rows; r++) DequantiseRow(r, result.AsSpan(r * Cols, Cols));
        return result;
    }

    public void Dispose()
    {
        if (data is not null) NativeMemory.AlignedFree(data);
        if (scales is not null) NativeMemory.AlignedFree(scales);
        data = null;
        scales = null;
        GC.SuppressFinalize(this);
    }

    ~PackedMatrix() => Dispose();
}

/// <summary>bfloat16 ↔ float32 on the bit pattern.</summary>
public static class Bf16
{
    /// <summary>Round to nearest even (torch's float → bfloat16); NaN stays a quiet NaN.</summary>
    public static ushort FromFloat(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        bits += 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }

    public static float ToFloat(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
