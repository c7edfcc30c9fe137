using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Evaluation;

/// <summary>
/// Reads a held-out JSONL file into <see cref="EvalSample"/>s with the training datasets' own builders: pretrain lines
/// <c>{"text": …}</c> → <see cref="PretrainSample"/> (every non-pad target scored), SFT lines
/// <c>{"conversations": [{"content": …}, …]}</c> → <see cref="SftSample"/> (assistant tokens scored). The first line
/// fixes the format; blank lines are skipped; any other problem names the file and line.
/// </summary>
public static class EvalSamples
{
    public enum Format { Pretrain, Sft }

    public static IEnumerable<EvalSample> Read(string path, BpeTokenizer tokenizer, int maxLength)
    {
        var tokens = SampleTokens.From(tokenizer);
        Format? format = null;
        EvalSample ReadLine(JsonElement root)
        {
            var lineFormat = root.TryGetProperty("text", out _) ? Format.Pretrain
                : root.TryGetProperty("conversations", out _) ? Format.Sft
                : throw new InvalidDataException("expected a \"text\" (pretrain) or \"conversations\" (SFT) field");
            format ??= lineFormat;
            if (format != lineFormat) throw new InvalidDataException($"a {lineFormat} line in a {format} file (the first line sets the format)");
            return format == Format.Pretrain ? Pretrain(root, tokenizer, maxLength, tokens) : Sft(root, tokenizer, maxLength, tokens);
        }
        foreach (var (line, sample) in Jsonl.Read(path, ReadLine)) yield return sample with { Line = checked((int)line) };
        if (format is null) throw new InvalidDataException($"{path}: no samples (the file is empty)");
    }

    static EvalSample Pretrain(JsonElement root, BpeTokenizer tokenizer, int maxLength, SampleTokens tokens)
    {
        var text = root.GetProperty("text");
        if (text.ValueKind != JsonValueKind.String) throw new InvalidDataException($"\"text\" must be a string, got {text.ValueKind}");
        var s = PretrainSample.Build(tokenizer, text.GetString()!, maxLength, tokens.PadId);
        return new EvalSample(0, s.X, s.Y, s.LossMaskShifted);
    }

    static EvalSample Sft(JsonElement root, BpeTokenizer tokenizer, int maxLength, SampleTokens tokens)
    {
        var turns = root.GetProperty("conversations");
        if (turns.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"\"conversations\" must be an array, got {turns.ValueKind}");
        var contents = new List<string?>();
        var i = 0;
        foreach (var turn in turns.EnumerateArray())
        {
            if (turn.ValueKind != JsonValueKind.Object || !turn.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"conversations[{i}] must be an object with a string \"content\"");
            contents.Add(content.GetString());
            i++;
        }
        if (contents.Count == 0) throw new InvalidDataException("\"conversations\" is empty");
        var s = SftSample.Build(tokenizer, contents, maxLength, tokens);
        return new EvalSample(0, s.X, s.Y, s.LossMaskShifted);
    }
}
