using System.Text.Json;

namespace MiniMind.Model.Tokenizer;

/// <summary>Streams training texts from a JSONL file, one line at a time (the file is never loaded whole).</summary>
/// <remarks>A line is either a pretrain record <c>{"text": "..."}</c> (what MiniMind's train_tokenizer.py reads) or an
/// SFT/reason record <c>{"conversations": [{"role": ..., "content": "..."}, ...]}</c>, whose contents are yielded one by one.
/// Blank lines are skipped. Anything else throws <see cref="InvalidDataException"/> naming the file and the 1-based line.</remarks>
public static class BpeTrainerJsonl
{
    /// <summary>Yields (line number, text) for every text in <paramref name="path"/>; <paramref name="onBytesRead"/>
    /// receives the bytes read so far after each line (for progress).</summary>
    public static IEnumerable<(long Line, string Text)> ReadTexts(string path, Action<long>? onBytesRead = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        long lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (!string.IsNullOrWhiteSpace(line))
                foreach (var text in ParseLine(path, lineNo, line)) yield return (lineNo, text);
            onBytesRead?.Invoke(stream.Position);
        }
    }

    static List<string> ParseLine(string path, long lineNo, string line)
    {
        var texts = new List<string>(1);
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, lineNo, "expected a JSON object");
            if (root.TryGetProperty("text", out var text))
            {
                if (text.ValueKind != JsonValueKind.String) throw Bad(path, lineNo, "\"text\" is not a string");
                texts.Add(text.GetString()!);
            }
            else if (root.TryGetProperty("conversations", out var turns) && turns.ValueKind == JsonValueKind.Array)
            {
                foreach (var turn in turns.EnumerateArray())
                {
                    if (turn.ValueKind != JsonValueKind.Object || !turn.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                        throw Bad(path, lineNo, "a \"conversations\" entry has no string \"content\"");
                    texts.Add(content.GetString()!);
                }
            }
            else throw Bad(path, lineNo, "no \"text\" string and no \"conversations\" array");
        }
        catch (JsonException e)
        {
            throw Bad(path, lineNo, $"invalid JSON ({e.Message})", e);
        }
        catch (InvalidOperationException e) // e.g. a string with an invalid surrogate escape
        {
            throw Bad(path, lineNo, e.Message, e);
        }
        return texts;
    }

    static InvalidDataException Bad(string path, long lineNo, string why, Exception? inner = null) =>
        new($"{path}:{lineNo}: {why}", inner);
}
