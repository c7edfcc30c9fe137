using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>The dtypes the checkpoint formats can hold, with their names in each format:
/// the torch storage class used in .pth pickles and the safetensors dtype string.</summary>
internal static class TensorDType
{
    sealed record Entry(ScalarType Type, string TorchStorage, string Safetensors, int ElementSize);

    static readonly Entry[] Entries =
    [
        new(ScalarType.Float32, "FloatStorage", "F32", 4),
        new(ScalarType.Float16, "HalfStorage", "F16", 2),
        new(ScalarType.BFloat16, "BFloat16Storage", "BF16", 2),
        new(ScalarType.Float64, "DoubleStorage", "F64", 8),
        new(ScalarType.Int64, "LongStorage", "I64", 8),
        new(ScalarType.Int32, "IntStorage", "I32", 4),
        new(ScalarType.Int16, "ShortStorage", "I16", 2),
        new(ScalarType.Int8, "CharStorage", "I8", 1),
        new(ScalarType.Byte, "ByteStorage", "U8", 1),
        new(ScalarType.Bool, "BoolStorage", "BOOL", 1),
    ];

    public static bool TryFromTorchStorage(string storageClass, out ScalarType type)
    {
        var e = Array.Find(Entries, x => x.TorchStorage == storageClass);
        type = e?.Type ?? default;
        return e is not null;
    }

    public static bool TryFromSafetensors(string name, out ScalarType type)
    {
        var e = Array.Find(Entries, x => x.Safetensors == name);
        type = e?.Type ?? default;
        return e is not null;
    }

    public static string TorchStorage(ScalarType type) => Find(type).TorchStorage;

    public static string Safetensors(ScalarType type) => Find(type).Safetensors;

    public static int ElementSize(ScalarType type) => Find(type).ElementSize;

    public static bool IsSupported(ScalarType type) => Array.Exists(Entries, x => x.Type == type);

    public static bool IsFloatingPoint(ScalarType type) =>
        type is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;

    /// <summary>The short lower-case name used in messages and <see cref="ModelInfo"/>: float32, float16, bfloat16, …</summary>
    public static string Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float64 => "float64",
        ScalarType.Int64 => "int64",
        ScalarType.Int32 => "int32",
        ScalarType.Int16 => "int16",
        ScalarType.Int8 => "int8",
        ScalarType.Byte => "uint8",
        ScalarType.Bool => "bool",
        _ => type.ToString(),
    };

    static Entry Find(ScalarType type) =>
        Array.Find(Entries, x => x.Type == type)
        ?? throw new NotSupportedException($"dtype {type} cannot be stored in a checkpoint (supported: {string.Join(", ", Entries.Select(x => Name(x.Type)))})");
}
