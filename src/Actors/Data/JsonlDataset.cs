using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Actors.Data;

/// <summary>STAND-IN until the data engineer's <c>PreparedData.OpenOrPrepare</c> (memory-mapped shards) is merged:
/// an <see cref="ITokenizedDataset"/> over a MiniMind JSONL file held in memory as lines, each tokenized on demand with
/// the existing sample builders (pretrain <c>{"text"}</c> → <see cref="PretrainSample"/>, SFT <c>{"conversations"}</c> →
/// <see cref="SftSample"/>). Sample i is a pure function of the file and i.</summary>
public sealed class JsonlDataset : ITokenizedDataset
{
    readonly string[] lines;
    readonly BpeTokenizer tokenizer;
    readonly int maxLength;
    readonly bool sft;
    readonly SampleTokens tokens;

    JsonlDataset(string[] lines, BpeTokenizer tokenizer, int maxLength, bool sft)
    {
        this.lines = lines;
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.sft = sft;
        tokens = SampleTokens.From(tokenizer);
    }

    /// <param name="stage">"pretrain" (text records) or "sft" (conversation records).</param>
    /// <param name="maxLength">MiniMind's max_length; samples have maxLength − 1 positions.</param>
    public static JsonlDataset Open(string path, BpeTokenizer tokenizer, int maxLength, string stage)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"training data not found: {path}", path);
        var lines = File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        if (lines.Length == 0) throw new InvalidDataException($"{path}: no records");
        return new JsonlDataset(lines, tokenizer, maxLength, stage == "sft");
    }

    public long Count => lines.Length;

    public int SeqLen => maxLength - 1;

    public TrainingSample Get(long index)
    {
        using var doc = JsonDocument.Parse(lines[index]);
        int[] x, y, mask;
        if (sft)
        {
            var s = SftSample.Build(tokenizer, ChatMessage.ListFromJson(doc.RootElement.GetProperty("conversations")), maxLength, tokens);
            (x, y, mask) = (s.X, s.Y, s.LossMaskShifted);
        }
        else
        {
            var s = PretrainSample.Build(tokenizer, doc.RootElement.GetProperty("text").GetString() ?? "", maxLength, tokens.PadId);
            (x, y, mask) = (s.X, s.Y, s.LossMaskShifted);
        }
        return new TrainingSample(x, y, Array.ConvertAll(mask, m => (float)m));
    }
}
