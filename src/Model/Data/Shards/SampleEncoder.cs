using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data.Shards;

/// <summary>
/// One JSONL line → one shard record. Gives what the per-sample builders give (<see cref="PretrainSample"/>,
/// <see cref="SftSample"/>, <see cref="ReasonLossMask"/>, <see cref="DpoSample"/>; SampleEncoderTests compare them
/// record for record) but without their per-sample arrays: the text is decoded into the
/// worker's char buffer, encoded into its id list, truncated and masked in its own spans, and written straight into
/// the chunk's <see cref="RecordBuffer"/>. Thread-safe (the tokenizer is); each thread passes its own <see cref="Scratch"/>.
/// </summary>
internal sealed class SampleEncoder(BpeTokenizer tokenizer, DataStage stage, int maxLength, int tokenBytes)
{
    readonly SampleTokens _tokens = SampleTokens.From(tokenizer);
    readonly int[] _tagIds = stage == DataStage.Reason ? ReasonLossMask.TagIds(tokenizer) : [];

    public int PadId => _tokens.PadId;

    /// <summary>One thread's reusable buffers (a few KB; they grow only for a longer text).</summary>
    public sealed class Scratch(int maxLength)
    {
        public readonly List<int> Ids = new(1024);
        public char[] Chars = new char[1024];
        public readonly int[] Padded = new int[maxLength];
        public readonly int[] Mask = new int[maxLength];
        public readonly int[] Weights = new int[maxLength - 1];
    }

    public Scratch NewScratch() => new(maxLength);

    /// <summary>Appends the record for <paramref name="line"/> to <paramref name="record"/>, or returns why it cannot
    /// (the caller adds file and line). <paramref name="record"/> is left unchanged on failure.</summary>
    public string? TryEncode(ReadOnlyMemory<byte> line, RecordBuffer record, Scratch scratch)
    {
        var mark = record.Count;
        var error = Jsonl.TryParse(line, (Encoder: this, Record: record, Scratch: scratch),
            static (root, s) => s.Encoder.Read(root, s.Record, s.Scratch), out var reason) ?? reason;
        if (error is not null) record.Truncate(mark);
        return error;
    }

    string? Read(JsonElement root, RecordBuffer record, Scratch scratch) => stage switch
    {
        DataStage.Pretrain => Pretrain(root, record, scratch),
        DataStage.Sft or DataStage.Reason => Sft(root, record, scratch),
        DataStage.Dpo => Dpo(root, record, scratch),
        _ => throw new ArgumentOutOfRangeException(nameof(root), stage.ToString()),
    };

    string? Pretrain(JsonElement root, RecordBuffer record, Scratch scratch)
    {
        if (!root.TryGetProperty("text", out var text)) return "missing field \"text\"";
        if (text.ValueKind != JsonValueKind.String) return $"\"text\" must be a string, got {text.ValueKind}";
        scratch.Ids.Clear();
        EncodeString(text, scratch);
        // PretrainSample: ids[:max_length] padded; the record trims the padding again, so the padding is never made.
        var ids = CollectionsMarshal.AsSpan(scratch.Ids);
        ShardFormat.AppendSide(record, ids[..Math.Min(ids.Length, maxLength)], _tokens.PadId, [], hasMask: false, tokenBytes);
        return null;
    }

    /// <summary>Encodes a JSON string value into <c>scratch.Ids</c>. A string without escapes is decoded straight from
    /// the line's bytes (already checked as UTF-8) into the reused char buffer; one with escapes goes through
    /// <see cref="JsonElement.GetString"/>, which also rejects a lone surrogate escape as before.</summary>
    void EncodeString(JsonElement text, Scratch scratch)
    {
        var raw = JsonMarshal.GetRawUtf8Value(text);
        if (raw.Length < 2 || raw[0] != (byte)'"' || raw[^1] != (byte)'"' || raw.Contains((byte)'\\'))
        {
            tokenizer.EncodeTo(text.GetString(), scratch.Ids);
            return;
        }
        var body = raw[1..^1];
        if (scratch.Chars.Length < body.Length) scratch.Chars = new char[Math.Max(body.Length, scratch.Chars.Length * 2)];
        var n = Encoding.UTF8.GetChars(body, scratch.Chars);
        tokenizer.EncodeTo(scratch.Chars.AsSpan(0, n), scratch.Ids);
        if (scratch.Chars.Length > 1 << 20) scratch.Chars = new char[1024]; // a huge line's buffer is not kept
    }

    string? Sft(JsonElement root, RecordBuffer record, Scratch scratch)
    {
        if (!root.TryGetProperty("conversations", out var turns)) return "missing field \"conversations\"";
        // roles by position, as MiniMind2's SFTDataset; newer records (tool turns, reasoning_content, …) are refused
        var messages = ConversationTurns.Read(turns, "conversations", out var error);
        if (messages is null) return error;
        AppendConversation(messages, record, scratch, reason: stage == DataStage.Reason);
        return null;
    }

    /// <summary>One rendered conversation as a record side: SftSample.FromPromptIds / DpoSide.Build without their
    /// arrays (input_ids = ids[:max_length] padded, the loss mask, mask[1:]), or for reason data the normaliser and
    /// ReasonLossMask's weights.</summary>
    void AppendConversation(IReadOnlyList<ChatMessage> messages, RecordBuffer record, Scratch scratch, bool reason)
    {
        var prompt = ChatTemplate.Render(messages, addGenerationPrompt: false);
        scratch.Ids.Clear();
        tokenizer.EncodeTo(prompt, scratch.Ids);
        var ids = CollectionsMarshal.AsSpan(scratch.Ids);
        var kept = Math.Min(ids.Length, maxLength);
        var padded = scratch.Padded.AsSpan();
        ids[..kept].CopyTo(padded);
        padded[kept..].Fill(_tokens.PadId);
        var mask = scratch.Mask.AsSpan();
        LossMask.Generate(padded, _tokens.AssistantStartIds, _tokens.TurnEndIds, maxLength, mask);
        var shifted = mask[1..];
        if (reason)
        {
            // ReasonLossMask.Build over Y = input_ids[1:]: the normaliser is the mask's sum, tag targets weigh 10.
            var y = padded[1..];
            var weights = scratch.Weights.AsSpan();
            var sum = 0;
            for (var i = 0; i < y.Length; i++)
            {
                sum += shifted[i];
                weights[i] = _tagIds.AsSpan().Contains(y[i]) ? ReasonLossMask.TagWeight : shifted[i];
            }
            ShardFormat.AppendInt32(record, sum);
            ShardFormat.AppendSide(record, padded, _tokens.PadId, weights, hasMask: true, tokenBytes);
        }
        else ShardFormat.AppendSide(record, padded, _tokens.PadId, shifted, hasMask: true, tokenBytes);
    }

    string? Dpo(JsonElement root, RecordBuffer record, Scratch scratch)
    {
        if (!root.TryGetProperty("chosen", out var chosen)) return "missing field \"chosen\"";
        if (!root.TryGetProperty("rejected", out var rejected)) return "missing field \"rejected\"";
        if (chosen.ValueKind != JsonValueKind.Array) return $"\"chosen\" must be an array, got {chosen.ValueKind}";
        if (rejected.ValueKind != JsonValueKind.Array) return $"\"rejected\" must be an array, got {rejected.ValueKind}";
        if ((ConversationTurns.CheckFields(chosen, "chosen") ?? ConversationTurns.CheckFields(rejected, "rejected")) is { } newer) return newer;
        // DpoSample.Build: each side rendered (roles respected) and masked as SFT; the caller truncates on a failure.
        var chosenMessages = ChatMessage.ListFromJson(chosen);
        var rejectedMessages = ChatMessage.ListFromJson(rejected);
        AppendConversation(chosenMessages, record, scratch, reason: false);
        AppendConversation(rejectedMessages, record, scratch, reason: false);
        return null;
    }
}
