using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.IO;

/// <summary>NumPy .npy files (format version 1.0, little-endian, C order): float32, float64, int64, int32.</summary>
public static class Npy
{
    static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Writes a tensor as .npy (it is moved to the CPU and made contiguous first).</summary>
    public static void Write(string path, Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        var t = tensor.detach().cpu().contiguous();
        var (descr, bytes) = t.dtype switch
        {
            ScalarType.Float32 => ("<f4", Bytes(t.data<float>().ToArray())),
            ScalarType.Float64 => ("<f8", Bytes(t.data<double>().ToArray())),
            ScalarType.Int64 => ("<i8", Bytes(t.data<long>().ToArray())),
            ScalarType.Int32 => ("<i4", Bytes(t.data<int>().ToArray())),
            var d => throw new NotSupportedException($"{path}: .npy writer does not support dtype {d}"),
        };
        var shape = t.shape.Length switch
        {
            0 => "()",
            1 => $"({t.shape[0]},)",
            _ => "(" + string.Join(", ", t.shape.Select(s => s.ToString(CultureInfo.InvariantCulture))) + ")",
        };
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Magic (6) + version (2) + header length (2) + header + '\n', padded with spaces to a multiple of 64.
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";

        var tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
        {
            fs.Write(Magic);
            fs.WriteByte(1);
            fs.WriteByte(0);
            var h = Encoding.ASCII.GetBytes(header);
            fs.WriteByte((byte)(h.Length & 0xff));
            fs.WriteByte((byte)(h.Length >> 8));
            fs.Write(h);
            fs.Write(bytes);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a .npy written by numpy.save or <see cref="Write"/> (little-endian, C order).</summary>
    public static Tensor Read(string path)
    {
        var all = File.ReadAllBytes(path);
        if (all.Length < 10 || !all.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a .npy file (bad magic)");
        int headerLen, offset;
        if (all[6] == 1) { headerLen = all[8] | all[9] << 8; offset = 10; }
        else { headerLen = BitConverter.ToInt32(all, 8); offset = 12; }
        if (offset + headerLen > all.Length) throw new InvalidDataException($"{path}: truncated .npy header");
        var header = Encoding.ASCII.GetString(all, offset, headerLen);
        if (header.Contains("'fortran_order': True", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: Fortran-ordered arrays are not supported");
        var descr = Field(header, "descr", path).Trim('\'', ' ');
        var shapeText = Field(header, "shape", path).Trim('(', ')', ' ');
        var shape = shapeText.Length == 0 ? Array.Empty<long>()
            : shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var data = all.AsSpan(offset + headerLen);
        var count = shape.Aggregate(1L, (a, b) => a * b);
        int size = descr switch { "<f4" or "<i4" => 4, "<f8" or "<i8" => 8, _ => throw new InvalidDataException($"{path}: unsupported dtype {descr}") };
        if (data.Length < count * size) throw new InvalidDataException($"{path}: truncated data ({data.Length} bytes, need {count * size})");
        data = data[..(int)(count * size)];
        return descr switch
        {
            "<f4" => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray(), shape),
            "<f8" => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(data).ToArray(), shape),
            "<i4" => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(data).ToArray(), shape),
            _ => torch.tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data).ToArray(), shape),
        };
    }

    static string Field(string header, string name, string path)
    {
        var key = $"'{name}':";
        var i = header.IndexOf(key, StringComparison.Ordinal);
        if (i < 0) throw new InvalidDataException($"{path}: .npy header has no '{name}'");
        i += key.Length;
        var end = name == "shape" ? header.IndexOf(')', i) + 1 : header.IndexOf(',', i);
        return header[i..end].Trim();
    }

    static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
