using System.Buffers;

namespace MiniMind.Model.Data.Shards;

/// <summary>A growable byte buffer on <see cref="ArrayPool{T}.Shared"/> that can be cut back (<see cref="Truncate"/>),
/// so a sample that fails half-way leaves no bytes behind. One per chunk in flight; not thread-safe.</summary>
internal sealed class RecordBuffer : IDisposable
{
    byte[] _buffer;

    public RecordBuffer(int capacity = 1 << 16) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>Bytes written so far.</summary>
    public int Count { get; private set; }

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Count);

    /// <summary>A span of <paramref name="bytes"/> bytes at the end, counted as written.</summary>
    public Span<byte> Append(int bytes)
    {
        if (Count + bytes > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Count + bytes));
            _buffer.AsSpan(0, Count).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        var span = _buffer.AsSpan(Count, bytes);
        Count += bytes;
        return span;
    }

    /// <summary>Drops everything after the first <paramref name="count"/> bytes.</summary>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Count = count;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        Count = 0;
    }
}
