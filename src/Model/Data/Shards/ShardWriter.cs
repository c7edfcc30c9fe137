using System.Buffers.Binary;

namespace MiniMind.Model.Data.Shards;

/// <summary>
/// Appends encoded records (see <see cref="ShardFormat"/>) to shard files in a directory, starting a new shard once
/// the current one reaches <c>shardBytes</c> or <c>shardSamples</c>. Single-threaded; the output depends only on the records' order.
/// </summary>
internal sealed class ShardWriter : IDisposable
{
    readonly string _dir;
    readonly int _tokenBytes;
    readonly long _shardBytes;
    readonly List<ShardInfo> _shards = [];
    readonly List<long> _offsets = [];
    FileStream? _stream;
    long _position;

    readonly long _shardSamples;

    public ShardWriter(string dir, int tokenBytes, long shardBytes, long shardSamples = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardSamples, 1);
        _shardSamples = shardSamples;
        ArgumentOutOfRangeException.ThrowIfLessThan(shardBytes, 1);
        _dir = dir;
        _tokenBytes = tokenBytes;
        _shardBytes = shardBytes;
    }

    public long SampleCount { get; private set; }

    public IReadOnlyList<ShardInfo> Shards => _shards;

    public void Append(ReadOnlySpan<byte> record)
    {
        if (_stream is null)
        {
            _stream = new FileStream(Path.Combine(_dir, ShardFormat.ShardFileName(_shards.Count)), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            _stream.Write(new byte[ShardFormat.HeaderBytes]);
            _position = ShardFormat.HeaderBytes;
            _offsets.Clear();
        }
        _offsets.Add(_position);
        _stream.Write(record);
        _position += record.Length;
        SampleCount++;
        if (_position >= _shardBytes || _offsets.Count >= _shardSamples) CloseShard();
    }

    /// <summary>Writes the index and header of the open shard, if any.</summary>
    public void Finish() => CloseShard();

    void CloseShard()
    {
        if (_stream is null) return;
        var count = _offsets.Count;
        var indexOffset = _position;
        Span<byte> u64 = stackalloc byte[8];
        foreach (var offset in _offsets.Append(_position))
        {
            BinaryPrimitives.WriteInt64LittleEndian(u64, offset);
            _stream.Write(u64);
        }
        Span<byte> header = stackalloc byte[ShardFormat.HeaderBytes];
        ShardFormat.WriteHeader(header, _tokenBytes, count, indexOffset);
        _stream.Position = 0;
        _stream.Write(header);
        _stream.Flush(flushToDisk: true);
        _shards.Add(new ShardInfo(ShardFormat.ShardFileName(_shards.Count), count, _stream.Length));
        _stream.Dispose();
        _stream = null;
    }

    public void Dispose() => _stream?.Dispose();
}
