namespace MiniMind.Model;

/// <summary>The weight format of inference (<c>generate</c>, <c>chat</c>, <c>eval</c>, <c>serve</c> <c>--dtype</c>).</summary>
public enum InferenceDType
{
    /// <summary>float32 weights and KV cache; decode through libtorch (<see cref="SingleTokenDecoder"/>): today's path, bit for bit.</summary>
    Fp32,
    /// <summary>bfloat16 weights (round to nearest even) and a bfloat16 KV cache; products accumulate in float32.</summary>
    Bf16,
    /// <summary>int8 weight-only quantisation, symmetric, one float32 scale per output channel (row); bfloat16 KV cache.</summary>
    Int8,
}

/// <summary>Names and parsing of <see cref="InferenceDType"/>.</summary>
public static class InferenceDTypes
{
    public const string Names = "fp32|bf16|int8";

    /// <summary>"fp32", "bf16" or "int8" (case-insensitive); anything else is an ArgumentException naming <paramref name="flag"/>.</summary>
    public static InferenceDType Parse(string value, string flag = "--dtype") => value.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => InferenceDType.Fp32,
        "bf16" or "bfloat16" => InferenceDType.Bf16,
        "int8" => InferenceDType.Int8,
        _ => throw new ArgumentException($"{flag} '{value}': expected one of {Names}"),
    };

    public static string Name(this InferenceDType dtype) => dtype switch
    {
        InferenceDType.Bf16 => "bf16",
        InferenceDType.Int8 => "int8",
        _ => "fp32",
    };

    /// <summary>The packed weight format of a dtype.</summary>
    public static PackedFormat Format(this InferenceDType dtype) => dtype switch
    {
        InferenceDType.Bf16 => PackedFormat.Bf16,
        InferenceDType.Int8 => PackedFormat.Int8,
        _ => PackedFormat.Fp32,
    };
}
