using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>MiniMind's <c>--dtype</c> for training: the precision of the matmuls. <c>bf16</c> is mixed precision (every
/// <see cref="Projection"/> multiplies bf16 casts of fp32 master weights; weights, AdamW state, RMSNorm, softmax, the
/// loss and checkpoints stay fp32); <c>fp32</c> is plain float32; <c>auto</c> picks bf16 where the device computes bf16
/// natively (CPU <c>avx512_bf16</c>/<c>amx_bf16</c>, CUDA compute capability ≥ 8.0) for a model of hidden size ≥
/// <see cref="MinBf16Hidden"/>, and fp32 elsewhere.</summary>
/// <param name="Name">"fp32" or "bf16": what runs.</param>
/// <param name="Reason">Why, for the header.</param>
public sealed record DtypeChoice(string Name, string Reason)
{
    public static readonly string[] Accepted = ["auto", "bf16", "fp32"];

    /// <summary>Below this hidden size auto keeps fp32: casting weights and activations to bf16 costs what the faster
    /// matmuls save. Measured on a Zen 5 with avx512_bf16, bench train, bf16/fp32 step speed: tiny (hidden 64,
    /// B16×T128) 0.97×; minimind2-small (hidden 512, B4×T256) 2.0×.</summary>
    public const int MinBf16Hidden = 512;

    public ScalarType ComputeDType => Name == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>The compute dtype of a resolved name ("fp32" or "bf16"); anything else is an <see cref="ArgumentException"/>.</summary>
    public static ScalarType Parse(string name) => name switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"--dtype {name}: expected auto, bf16 or fp32"),
    };

    /// <summary>Resolves <paramref name="requested"/> (auto, bf16 or fp32) for <paramref name="device"/> ("cpu", "cuda[:N]")
    /// and a model of <paramref name="hiddenSize"/>.</summary>
    public static DtypeChoice Resolve(string requested, string device, int hiddenSize)
    {
        var r = requested.Trim().ToLowerInvariant();
        if (!Accepted.Contains(r)) throw new ArgumentException($"--dtype {requested}: expected auto, bf16 or fp32");
        var cuda = device.Trim().StartsWith("cuda", StringComparison.OrdinalIgnoreCase);
        var (native, why) = cuda ? CudaNativeBf16(device) : CpuNativeBf16();
        return r switch
        {
            "fp32" => new("fp32", "--dtype fp32"),
            "bf16" => new("bf16", native ? $"--dtype bf16 ({why})" : $"--dtype bf16, but {why}: expect it slower than fp32"),
            _ when !native => new("fp32", $"auto: {why}"),
            _ when hiddenSize < MinBf16Hidden => new("fp32", $"auto: {why}, but hidden size {hiddenSize} < {MinBf16Hidden} is too small for bf16 to pay off"),
            _ => new("bf16", $"auto: {why}"),
        };
    }

    /// <summary>True when this CPU has a native bf16 dot product (avx512_bf16 or amx_bf16 in /proc/cpuinfo).</summary>
    public static bool CpuHasNativeBf16() => CpuBf16Flags().Count > 0;

    static List<string> CpuBf16Flags()
    {
        if (!File.Exists("/proc/cpuinfo")) return [];
        var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ') ?? [];
        return new[] { "avx512_bf16", "amx_bf16" }.Where(flags.Contains).ToList();
    }

    static (bool, string) CpuNativeBf16()
    {
        var found = CpuBf16Flags();
        return found.Count > 0
            ? (true, $"this CPU has native bf16 ({string.Join(", ", found)})")
            : (false, "this CPU has no native bf16 (no avx512_bf16/amx_bf16)");
    }

    /// <summary>Compute capability from the CUDA runtime (TorchSharp 0.107 has no query for it). Untested here: no GPU.</summary>
    static (bool, string) CudaNativeBf16(string device)
    {
        var index = device.Contains(':') && int.TryParse(device.AsSpan(device.IndexOf(':') + 1), out var i) ? i : 0;
        foreach (var name in new[] { "libcudart.so", "libcudart.so.12", "libcudart.so.11.0" })
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            if (!NativeLibrary.TryGetExport(lib, "cudaDeviceGetAttribute", out var f)) continue;
            var get = Marshal.GetDelegateForFunctionPointer<CudaDeviceGetAttribute>(f);
            if (get(out var major, 75, index) != 0 || get(out var minor, 76, index) != 0) continue;   // cudaDevAttrComputeCapabilityMajor/Minor
            return major >= 8
                ? (true, $"CUDA device {index} has compute capability {major}.{minor} (≥ 8.0: native bf16)")
                : (false, $"CUDA device {index} has compute capability {major}.{minor} (< 8.0: no native bf16)");
        }
        return (false, "the CUDA compute capability could not be read (no libcudart)");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int CudaDeviceGetAttribute(out int value, int attribute, int device);
}
