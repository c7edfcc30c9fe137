using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>One tensor of a checkpoint as its file describes it, before any data is read.
/// <paramref name="StorageKey"/> identifies the bytes it views: two entries with the same key share storage
/// (a tied weight in a .pth); in a safetensors file every tensor has its own.</summary>
internal sealed record CheckpointEntry(string Name, ScalarType DType, long[] Shape, long[] Stride, long StorageOffset, string StorageKey)
{
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Same storage, offset, shape and stride: the same tensor under two names.</summary>
    public bool SameViewAs(CheckpointEntry other) =>
        StorageKey == other.StorageKey && DType == other.DType && StorageOffset == other.StorageOffset
        && Shape.SequenceEqual(other.Shape) && Stride.SequenceEqual(other.Stride);
}
