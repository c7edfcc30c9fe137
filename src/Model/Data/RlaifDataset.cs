using System.Text.Json;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// MiniMind's RLAIFDataset (dataset/lm_dataset.py): each record's <c>conversations</c> without its last turn, which must be
/// the assistant's and empty (the policy writes it), rendered with the chat template and the generation prompt. As the
/// newest MiniMind template does, the generation prompt ends with <c>&lt;think&gt;\n</c> (thinking on) or an empty
/// <c>&lt;think&gt;\n\n&lt;/think&gt;\n\n</c> (off); thinking is on with probability <c>thinking_ratio</c>, drawn per
/// sample from (seed, index) instead of Python's global random, so sample i stays a pure function of the data and i.
/// Prompts keep their last <c>max_seq_len</c> tokens (MiniMind: <c>input_ids[:, -max_seq_len:]</c>). Sample i's
/// <see cref="TrainingSample.X"/> holds the prompt right-padded with the pad id, its mask 1 on the prompt tokens (Y is
/// unused). The whole file is read into memory (prompts are short); bad records fail naming file and line.
/// </summary>
public sealed class RlaifDataset : ITokenizedDataset
{
    /// <summary>What the newest template appends after the assistant header with thinking on / off.</summary>
    public const string ThinkingOn = "<think>\n", ThinkingOff = "<think>\n\n</think>\n\n";

    readonly int[][] prompts;
    readonly int padId;

    RlaifDataset(int[][] prompts, int seqLen, int padId, int skipped, IReadOnlyList<string> skippedReasons)
    {
        this.prompts = prompts;
        SeqLen = seqLen;
        this.padId = padId;
        LinesSkipped = skipped;
        SkippedReasons = skippedReasons;
    }

    public long Count => prompts.Length;

    /// <summary>The prompt length cap (MiniMind's max_seq_len).</summary>
    public int SeqLen { get; }

    /// <summary>Records skipped with skipBadLines, and why (file:line: reason).</summary>
    public int LinesSkipped { get; }
    public IReadOnlyList<string> SkippedReasons { get; }

    /// <summary>Prompt <paramref name="index"/>'s ids (at most <see cref="SeqLen"/>).</summary>
    public int[] Prompt(long index) => prompts[index];

    public TrainingSample Get(long index)
    {
        var p = prompts[index];
        var x = new int[SeqLen];
        Array.Fill(x, padId);
        p.CopyTo(x, 0);
        var mask = new float[SeqLen];
        Array.Fill(mask, 1f, 0, p.Length);
        return new TrainingSample(x, new int[SeqLen], mask);
    }

    /// <summary>Reads <paramref name="path"/>. A bad record is a <see cref="DataFormatException"/> naming file and line,
    /// unless <paramref name="skipBadLines"/> (then it is counted in <see cref="LinesSkipped"/>). No records: an error.</summary>
    public static RlaifDataset Load(string path, BpeTokenizer tokenizer, int maxSeqLen, double thinkingRatio, ulong seed, bool skipBadLines = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var pad = MiniMindSpecialTokens.From(tokenizer).PadId;
        var prompts = new List<int[]>();
        var skipped = new List<string>();
        var lines = skipBadLines ? ReadSkipping(path, skipped) : Jsonl.Read(path, Messages);
        foreach (var (_, messages) in lines)
        {
            var thinking = Draw(seed, prompts.Count) < thinkingRatio;
            var text = Render(messages, thinking);
            var ids = tokenizer.Encode(text);
            prompts.Add(ids.Length > maxSeqLen ? ids[^maxSeqLen..] : ids);
        }
        if (prompts.Count == 0) throw new InvalidDataException($"{path}: no prompts (expected {{\"conversations\": [..., {{\"role\": \"assistant\", \"content\": \"\"}}]}} lines)");
        return new RlaifDataset([.. prompts], maxSeqLen, pad, skipped.Count, skipped);
    }

    /// <summary>The prompt text: the turns before the empty assistant turn, the template, the generation prompt.</summary>
    public static string Render(IReadOnlyList<ChatMessage> context, bool thinking) =>
        ChatTemplate.Render(context, addGenerationPrompt: true) + (thinking ? ThinkingOn : ThinkingOff);

    /// <summary>A record's conversation without its last (assistant, empty) turn; rejects anything else with a reason.</summary>
    public static IReadOnlyList<ChatMessage> Messages(JsonElement root)
    {
        if (!root.TryGetProperty("conversations", out var turns)) throw new InvalidDataException("missing \"conversations\"");
        var messages = ConversationTurns.Read(turns, "conversations", out var error) ?? throw new InvalidDataException(error!);
        var last = messages[^1];
        var at = $"conversations[{messages.Count - 1}]";
        if (last.Role != "assistant")
            throw new InvalidDataException($"{at}: the last turn must be the assistant's (empty: the policy writes it), got a {last.Role} turn");
        if (!string.IsNullOrEmpty(last.Content))
            throw new InvalidDataException($"{at}.content: the last (assistant) turn must be empty: GRPO generates it");
        if (messages.Count < 2 || messages[^2].Role != "user") throw new InvalidDataException($"{at}: no user turn before the assistant's");
        return [.. messages.Take(messages.Count - 1)];
    }

    static IEnumerable<(long Line, IReadOnlyList<ChatMessage> Value)> ReadSkipping(string path, List<string> skipped)
    {
        foreach (var chunk in Jsonl.Chunks(path))
        {
            try
            {
                for (var k = 0; k < chunk.LineCount; k++)
                {
                    var line = chunk.Line(k);
                    if (Jsonl.IsBlank(line.Span)) continue;
                    var error = Jsonl.TryParse(line, Messages, out var value);
                    if (error is not null) skipped.Add($"{path}:{chunk.FirstLine + k}: {error}");
                    else yield return (chunk.FirstLine + k, value!);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(chunk.Buffer);
            }
        }
    }

    /// <summary>A uniform draw in [0, 1) from (seed, index): SplitMix64 of the two, the top 53 bits.</summary>
    public static double Draw(ulong seed, long index)
    {
        var z = SplitMix(seed ^ SplitMix((ulong)index + 0x632BE59BD9B4E019UL));
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
