namespace MiniMind.Actors.Protocol;

/// <summary>One piece (≤ <see cref="MaxBytes"/> through Akka.Remote; the whole gradient through a bulk transport) of a
/// flattened float32 gradient: how workers ship gradients to the <see cref="GradientAggregator"/> (issue 5).
/// It is the gradient of micro-batch <paramref name="Micro"/>, or, with <paramref name="Span"/> &gt; 1, the canonical
/// sum (<see cref="MicroReduction"/>) of micro-batches <c>Micro … Micro+Span-1</c> that a node with several devices
/// reduced locally. <paramref name="Data"/> is little-endian float32.</summary>
public sealed record GradientChunk(long Step, int Micro, int Index, int Count, long Offset, byte[] Data, int Span = 1) : IClusterMessage
{
    /// <summary>4 MB: Akka.Remote's frame must hold a chunk (notes/akka.md §1, §3).</summary>
    public const int MaxBytes = 4 * 1024 * 1024;

    /// <summary>Splits <paramref name="gradient"/> into chunks of at most <paramref name="maxBytes"/> bytes, in order.</summary>
    public static IReadOnlyList<GradientChunk> Split(long step, int micro, ReadOnlySpan<float> gradient, int maxBytes = MaxBytes, int span = 1)
    {
        var perChunk = Math.Max(1, maxBytes / sizeof(float));
        var count = Math.Max(1, (gradient.Length + perChunk - 1) / perChunk);
        var chunks = new List<GradientChunk>(count);
        for (var i = 0; i < count; i++)
        {
            var slice = gradient.Slice(i * perChunk, Math.Min(perChunk, gradient.Length - i * perChunk));
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(slice).ToArray();
            chunks.Add(new GradientChunk(step, micro, i, count, (long)i * perChunk, bytes, span));
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
