using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using MiniMind.Model.Data.Shards;

namespace MiniMind.Model.Data;

/// <summary>
/// The one way JSONL is read: <see cref="JsonlChunkReader"/> cuts the file into whole lines (BOM, CRLF, a line-length
/// cap, memory bounded by the longest line), <see cref="TryParse{T}"/> turns one line into a value. Every error a line
/// can cause (not UTF-8, not JSON, not an object, or rejected by the caller's reader) becomes a
/// <see cref="DataFormatException"/> whose message starts with <c>file:line:</c>.
/// </summary>
public static class Jsonl
{
    const int ChunkBytes = 1 << 20;

    /// <summary>Calls <paramref name="read"/> on the JSON object of every non-blank line of <paramref name="path"/>, in
    /// order and streaming, and yields (1-based line number, value). <paramref name="read"/> rejects a line by throwing
    /// <see cref="InvalidDataException"/> (or <see cref="JsonException"/>, <see cref="InvalidOperationException"/>) with
    /// a reason; the reason is reported with file and line. <paramref name="onBytesRead"/> gets the file offset reached
    /// after each chunk of lines (for progress). A missing file throws when enumeration starts.</summary>
    public static IEnumerable<(long Line, T Value)> Read<T>(string path, Func<JsonElement, T> read, Action<long>? onBytesRead = null)
    {
        foreach (var chunk in Chunks(path))
        {
            try
            {
                for (var k = 0; k < chunk.LineCount; k++)
                {
                    var line = chunk.Line(k);
                    if (IsBlank(line.Span)) continue;
                    var error = TryParse(line, read, out var value);
                    if (error is not null) throw new DataFormatException(path, chunk.FirstLine + k, error);
                    yield return (chunk.FirstLine + k, value!);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk.Buffer);
            }
            onBytesRead?.Invoke(chunk.EndOffset);
        }
    }

    /// <summary>Reads every line of <paramref name="path"/> in chunks of whole lines (blank lines included), for callers
    /// that process a chunk's lines in parallel. Return each <see cref="JsonlChunk.Buffer"/> to
    /// <see cref="ArrayPool{T}.Shared"/> when done with it. A missing file throws here, before enumeration.</summary>
    public static IEnumerable<JsonlChunk> Chunks(string path, int chunkBytes = ChunkBytes)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file not found: {path}", path);
        return Iterate(path, chunkBytes);

        static IEnumerable<JsonlChunk> Iterate(string path, int chunkBytes)
        {
            using var lines = new JsonlChunkReader(path, chunkBytes);
            while (lines.Next() is { } chunk) yield return chunk;
        }
    }

    /// <summary>True for a line of spaces and tabs only.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t\r"u8).IsEmpty;

    /// <summary>Parses one line (UTF-8 bytes without its newline) as a JSON object and calls <paramref name="read"/> on
    /// it. Returns null and the value, or why the line is bad (without file and line). Thread-safe.</summary>
    public static string? TryParse<T>(ReadOnlyMemory<byte> line, Func<JsonElement, T> read, out T? value)
    {
        ArgumentNullException.ThrowIfNull(read);
        return TryParse(line, read, static (root, r) => r(root), out value);
    }

    /// <summary><see cref="TryParse{T}(ReadOnlyMemory{byte}, Func{JsonElement, T}, out T)"/> with a state for
    /// <paramref name="read"/>, so a static lambda needs no closure per line.</summary>
    public static string? TryParse<TState, T>(ReadOnlyMemory<byte> line, TState state, Func<JsonElement, TState, T> read, out T? value)
    {
        ArgumentNullException.ThrowIfNull(read);
        value = default;
        if (!Utf8.IsValid(line.Span)) return $"invalid UTF-8 at byte {FirstInvalidByte(line.Span) + 1} of the line";
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return $"expected a JSON object, got {root.ValueKind}";
            value = read(root, state);
            return null;
        }
        catch (JsonException e)
        {
            return $"invalid JSON ({e.Message})";
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
        catch (InvalidOperationException e) // a ChatTemplateException, or GetString on a lone surrogate escape ("\ud800")
        {
            return e is Tokenizer.ChatTemplateException ? e.Message : $"invalid string ({e.Message})";
        }
    }

    static int FirstInvalidByte(ReadOnlySpan<byte> bytes)
    {
        var pos = 0;
        while (pos < bytes.Length)
        {
            if (OperationStatus.Done != Rune.DecodeFromUtf8(bytes[pos..], out _, out var consumed)) return pos;
            pos += consumed;
        }
        return pos;
    }
}
