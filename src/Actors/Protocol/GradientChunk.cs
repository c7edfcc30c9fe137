namespace MiniMind.Actors.Protocol;

/// <summary>One piece (≤ <see cref="MaxBytes"/>) of a worker's flattened float32 gradient for a step's micro-batch:
/// how workers on other nodes will ship gradients to the <see cref="GradientAggregator"/> (issue 5).
/// <paramref name="Data"/> is little-endian float32.</summary>
public sealed record GradientChunk(long Step, int Micro, int Index, int Count, long Offset, byte[] Data) : IClusterMessage
{
    /// <summary>4 MB: Akka.Remote's frame must hold a chunk (notes/akka.md §1, §3).</summary>
    public const int MaxBytes = 4 * 1024 * 1024;

    /// <summary>Splits <paramref name="gradient"/> into chunks of at most <paramref name="maxBytes"/> bytes, in order.</summary>
    public static IReadOnlyList<GradientChunk> Split(long step, int micro, ReadOnlySpan<float> gradient, int maxBytes = MaxBytes)
    {
        var perChunk = Math.Max(1, maxBytes / sizeof(float));
        var count = Math.Max(1, (gradient.Length + perChunk - 1) / perChunk);
        var chunks = new List<GradientChunk>(count);
        for (var i = 0; i < count; i++)
        {
            var slice = gradient.Slice(i * perChunk, Math.Min(perChunk, gradient.Length - i * perChunk));
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(slice).ToArray();
            chunks.Add(new GradientChunk(step, micro, i, count, (long)i * perChunk, bytes));
        }
        return chunks;
    }

    /// <summary>Reassembles chunks (any arrival order) into a gradient of <paramref name="length"/> floats.</summary>
    public static float[] Join(IEnumerable<GradientChunk> chunks, int length)
    {
        var result = new float[length];
        foreach (var c in chunks)
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(c.Data).CopyTo(result.AsSpan((int)c.Offset));
        return result;
    }
}
