using System.Text.Json;
using MiniMind.Model.Data;

namespace MiniMind.Model.Tokenizer;

/// <summary>Streams training texts from a JSONL file (through <see cref="Jsonl"/>; the file is never loaded whole).</summary>
/// <remarks>A line is either a pretrain record <c>{"text": "..."}</c> (what MiniMind's train_tokenizer.py reads) or an
/// SFT/reason record <c>{"conversations": [{"role": ..., "content": "..."}, ...]}</c>, whose contents are yielded one by one.
/// Blank lines are skipped. Anything else throws <see cref="Data.Shards.DataFormatException"/> naming the file and the 1-based line.</remarks>
public static class BpeTrainerJsonl
{
    /// <summary>Yields (line number, text) for every text in <paramref name="path"/>; <paramref name="onBytesRead"/>
    /// receives the bytes read so far (for progress).</summary>
    public static IEnumerable<(long Line, string Text)> ReadTexts(string path, Action<long>? onBytesRead = null)
    {
        foreach (var (line, texts) in Jsonl.Read(path, Texts, onBytesRead))
            foreach (var text in texts) yield return (line, text);
    }

    static List<string> Texts(JsonElement root)
    {
        var texts = new List<string>(1);
        if (root.TryGetProperty("text", out var text))
        {
            if (text.ValueKind != JsonValueKind.String) throw new InvalidDataException("\"text\" is not a string");
            texts.Add(text.GetString()!);
        }
        else if (root.TryGetProperty("conversations", out var turns) && turns.ValueKind == JsonValueKind.Array)
        {
            foreach (var turn in turns.EnumerateArray())
            {
                if (turn.ValueKind != JsonValueKind.Object || !turn.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException("a \"conversations\" entry has no string \"content\"");
                texts.Add(content.GetString()!);
            }
        }
        else throw new InvalidDataException("no \"text\" string and no \"conversations\" array");
        return texts;
    }
}
