using System.Buffers;

namespace MiniMind.Model.Data.Shards;

/// <summary>A run of consecutive JSONL lines copied out of the file: <see cref="Buffer"/> (pooled) holds their bytes,
/// line k is <c>Buffer[Starts[k]..Starts[k+1]]</c> without its '\n' (and '\r'), numbered <c>FirstLine + k</c>.</summary>
public sealed class JsonlChunk
{
    public required long Sequence { get; init; }
    public required long FirstLine { get; init; }
    public required byte[] Buffer { get; init; }
    public required int[] Starts { get; init; }
    public required int[] Ends { get; init; }
    public required long EndOffset { get; init; }
    public int LineCount => Starts.Length;
    public ReadOnlyMemory<byte> Line(int k) => Buffer.AsMemory(Starts[k], Ends[k] - Starts[k]);
}

/// <summary>
/// Reads a JSONL file as chunks of about <c>chunkBytes</c> bytes of whole lines, through one read buffer that grows
/// only to hold the longest line (capped at <c>maxLineBytes</c>, default <see cref="MaxLineBytes"/>). Memory is bounded by the chunk size and the
/// longest line, not by the file.
/// </summary>
internal sealed class JsonlChunkReader : IDisposable
{
    public const int MaxLineBytes = 64 << 20;

    readonly string _path;
    readonly FileStream _stream;
    readonly int _chunkBytes;
    readonly int _maxLineBytes;
    byte[] _buf;
    int _start, _end;
    bool _eof;
    long _line;
    long _sequence;
    long _consumed; // file offset of _buf[_start]

    public JsonlChunkReader(string path, int chunkBytes, int maxLineBytes = MaxLineBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 16);
        _path = path;
        _chunkBytes = chunkBytes;
        _maxLineBytes = maxLineBytes;
        _buf = new byte[Math.Min(1 << 20, maxLineBytes + 1)];
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    public long Length => _stream.Length;

    /// <summary>The next chunk, or null at the end of the file.</summary>
    public JsonlChunk? Next()
    {
        var data = ArrayPool<byte>.Shared.Rent(_chunkBytes + 1024);
        var used = 0;
        var starts = new List<int>();
        var ends = new List<int>();
        var firstLine = _line + 1;
        while (used < _chunkBytes)
        {
            var nl = _buf.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            int lineLen, advance;
            if (nl >= 0)
            {
                lineLen = nl;
                advance = nl + 1;
            }
            else if (!_eof)
            {
                Fill();
                continue;
            }
            else if (_end > _start)
            {
                lineLen = advance = _end - _start;
            }
            else break;

            if (lineLen > _maxLineBytes) throw TooLong();
            var line = _buf.AsSpan(_start, lineLen);
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            if (_line == 0 && line.StartsWith("\uFEFF"u8)) line = line[3..];
            _line++;
            if (used + line.Length > data.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length * 2, used + line.Length));
                data.AsSpan(0, used).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(data);
                data = bigger;
            }
            line.CopyTo(data.AsSpan(used));
            starts.Add(used);
            used += line.Length;
            ends.Add(used);
            _start += advance;
            _consumed += advance;
        }
        if (starts.Count == 0)
        {
            ArrayPool<byte>.Shared.Return(data);
            return null;
        }
        return new JsonlChunk
        {
            Sequence = _sequence++, FirstLine = firstLine, Buffer = data,
            Starts = [.. starts], Ends = [.. ends], EndOffset = _consumed,
        };
    }

    void Fill()
    {
        if (_start > 0)
        {
            _buf.AsSpan(_start, _end - _start).CopyTo(_buf);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length)
        {
            if (_buf.Length > _maxLineBytes) throw TooLong();
            Array.Resize(ref _buf, (int)Math.Min(_buf.Length * 2L, _maxLineBytes + 1L));
        }
        var n = _stream.Read(_buf, _end, _buf.Length - _end);
        if (n == 0) _eof = true;
        _end += n;
    }

    DataFormatException TooLong() => new(_path, _line + 1, $"line longer than {_maxLineBytes} bytes (the limit; is this a JSONL file?)");

    public void Dispose() => _stream.Dispose();
}
