using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace MiniMind.Model.Data.Shards;

/// <summary>One memory-mapped shard: random, thread-safe access to its records (<see cref="ShardFormat"/>).</summary>
internal sealed class ShardFile : IDisposable
{
    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly SafeBuffer _buffer;
    readonly ulong _base;
    readonly long _indexOffset;
    readonly long _length;

    public ShardFile(string path, int expectedTokenBytes)
    {
        Path = path;
        _length = new FileInfo(path).Length;
        if (_length < ShardFormat.HeaderBytes) throw new InvalidDataException($"{path}: truncated shard ({_length} bytes)");
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        _buffer = _view.SafeMemoryMappedViewHandle;
        _base = (ulong)_view.PointerOffset;
        Span<byte> header = stackalloc byte[ShardFormat.HeaderBytes];
        Read(0, header);
        if (!header[..8].SequenceEqual(ShardFormat.Magic)) throw new InvalidDataException($"{path}: not a MiniMind shard (bad magic)");
        var version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version != ShardFormat.Version) throw new InvalidDataException($"{path}: shard format {version}, expected {ShardFormat.Version}");
        TokenBytes = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        if (TokenBytes != expectedTokenBytes) throw new InvalidDataException($"{path}: {TokenBytes}-byte token ids, the manifest says {expectedTokenBytes}");
        Count = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        _indexOffset = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        if (_indexOffset < ShardFormat.HeaderBytes || _indexOffset + (Count + 1) * 8 != _length)
            throw new InvalidDataException($"{path}: index does not match the file size (truncated or corrupt shard)");
    }

    public string Path { get; }

    public long Count { get; }

    public int TokenBytes { get; }

    /// <summary>Byte range [start, end) of record <paramref name="index"/>.</summary>
    public (long Start, long End) Record(long index)
    {
        Span<byte> two = stackalloc byte[16];
        Read(_indexOffset + index * 8, two);
        return (BinaryPrimitives.ReadInt64LittleEndian(two), BinaryPrimitives.ReadInt64LittleEndian(two[8..]));
    }

    public void Read(long position, Span<byte> destination) => _buffer.ReadSpan(_base + (ulong)position, destination);

    public int ReadInt32(long position)
    {
        Span<byte> four = stackalloc byte[4];
        Read(position, four);
        return BinaryPrimitives.ReadInt32LittleEndian(four);
    }

    /// <summary>Reads a side at <paramref name="position"/>: its ids padded to <paramref name="maxLength"/> into
    /// X (ids[:-1]) and Y (ids[1:]), and its mask (if <paramref name="hasMask"/>) into <paramref name="mask"/>.
    /// Returns the position after the side.</summary>
    public long ReadSide(long position, int maxLength, int padId, bool hasMask, int[] x, int[] y, float[]? mask)
    {
        var n = ReadInt32(position);
        position += 4;
        if ((uint)n > (uint)maxLength) throw new InvalidDataException($"{Path}: record at byte {position - 4} has {n} ids > max_length {maxLength}");
        var ids = ArrayPool<int>.Shared.Rent(maxLength);
        try
        {
            var span = ids.AsSpan(0, maxLength);
            if (TokenBytes == 4)
            {
                _buffer.ReadSpan(_base + (ulong)position, span[..n]);
            }
            else
            {
                var narrow = ArrayPool<ushort>.Shared.Rent(n);
                _buffer.ReadSpan(_base + (ulong)position, narrow.AsSpan(0, n));
                for (var i = 0; i < n; i++) span[i] = narrow[i];
                ArrayPool<ushort>.Shared.Return(narrow);
            }
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
            span[n..].Fill(padId);
            position += (long)n * TokenBytes;
            span[..^1].CopyTo(x);
            span[1..].CopyTo(y);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ids);
        }
        if (!hasMask) return position;
        var seqLen = maxLength - 1;
        var bytes = ArrayPool<byte>.Shared.Rent(seqLen);
        Read(position, bytes.AsSpan(0, seqLen));
        for (var i = 0; i < seqLen; i++) mask![i] = bytes[i];
        ArrayPool<byte>.Shared.Return(bytes);
        return position + seqLen;
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }
}
