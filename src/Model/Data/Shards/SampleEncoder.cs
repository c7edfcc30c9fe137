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
    readonly bool[] _isTag = TagTable(tokenizer, stage);

    /// <summary>For reason data, true at the ids of ReasonLossMask's tags (ids index it: they are below the vocab size).</summary>
    static bool[] TagTable(BpeTokenizer tokenizer, DataStage stage)
    {
        var table = new bool[tokenizer.VocabSize];
        if (stage == DataStage.Reason)
            foreach (var id in ReasonLossMask.TagIds(tokenizer)) table[id] = true;
        return table;
    }

    public int PadId => _tokens.PadId;

    /// <summary>One thread's reusable buffers (a few KB; they grow only for a longer text).</summary>
    public sealed class Scratch(int maxLength)
    {
        public readonly List<int> Ids = new(1024);
        public char[] Chars = new char[1024];
        public int Length; // chars of the rendered conversation in Chars
        public readonly int[] Padded = new int[maxLength];
        public readonly byte[] MaskBytes = new byte[maxLength - 1];
        public readonly List<(string Role, JsonElement Content)> Turns = new(8);

        public void Ensure(int more)
        {
            if (Chars.Length < Length + more) Array.Resize(ref Chars, Math.Max(Length + more, Chars.Length * 2));
        }
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
        if (!ConversationTurns.TryRead(turns, "conversations", scratch.Turns, out var error)) return error;
        RenderTurns(scratch);
        AppendConversation(record, scratch, reason: stage == DataStage.Reason);
        return null;
    }

    /// <summary><see cref="ChatTemplate.Render"/> of SFT turns (roles are "system", "user" or "assistant", contents JSON
    /// strings) into <c>scratch.Chars</c>, without a string per content or for the prompt.</summary>
    void RenderTurns(Scratch scratch)
    {
        var turns = scratch.Turns;
        scratch.Length = 0;
        Append(scratch, ChatTemplate.SystemHeader);
        if (turns[0].Role == "system") AppendContent(scratch, turns[0].Content);
        else Append(scratch, ChatTemplate.DefaultSystemPrompt);
        Append(scratch, ChatTemplate.TurnEnd);
        foreach (var (role, content) in turns)
        {
            if (role == "user")
            {
                Append(scratch, ChatTemplate.UserHeader);
                AppendContent(scratch, content);
                Append(scratch, ChatTemplate.UserEnd);
            }
            else if (role == "assistant")
            {
                AppendContent(scratch, content);
                Append(scratch, ChatTemplate.TurnEnd);
            }
        }
    }

    /// <summary><see cref="ChatTemplate.Render"/> of DPO messages as <see cref="ChatMessage.ListFromJson"/> reads them
    /// (any role; a missing or null role or content is allowed until the template renders it), into <c>scratch.Chars</c>,
    /// or the template's error. <paramref name="messages"/> was checked by <see cref="CheckMessages"/>.</summary>
    string? RenderMessages(JsonElement messages, Scratch scratch)
    {
        if (messages.GetArrayLength() == 0) return ChatTemplate.EmptyMessages;
        scratch.Length = 0;
        Append(scratch, ChatTemplate.SystemHeader);
        var i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            var role = Role(m);
            if (i == 0)
            {
                if (role == "system")
                {
                    if (Content(m) is not { } system) return ChatTemplate.NoContent(0, role);
                    AppendContent(scratch, system);
                }
                else Append(scratch, ChatTemplate.DefaultSystemPrompt);
                Append(scratch, ChatTemplate.TurnEnd);
            }
            if (role is "user" or "assistant")
            {
                if (Content(m) is not { } content) return ChatTemplate.NoContent(i, role);
                if (role == "user") Append(scratch, ChatTemplate.UserHeader);
                AppendContent(scratch, content);
                Append(scratch, role == "user" ? ChatTemplate.UserEnd : ChatTemplate.TurnEnd);
            }
            i++;
        }
        return null;

        // the roles the template tests, as their literals (no string per message); any other role renders nothing
        static string? Role(JsonElement m) =>
            !m.TryGetProperty("role", out var r) || r.ValueKind != JsonValueKind.String ? null
            : r.ValueEquals("user") ? "user" : r.ValueEquals("assistant") ? "assistant" : r.ValueEquals("system") ? "system" : "other";

        static JsonElement? Content(JsonElement m) =>
            m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c : null;
    }

    /// <summary><see cref="ChatMessage.ListFromJson"/>'s checks, in its order, without building the messages.</summary>
    static string? CheckMessages(JsonElement messages)
    {
        var i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object) return $"messages[{i}] must be an object with role and content, got {m.ValueKind}";
            foreach (var name in (ReadOnlySpan<string>)["role", "content"])
                if (m.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.String))
                    return $"messages[{i}].{name} must be a string, got {v.ValueKind} ({v.GetRawText()})";
            i++;
        }
        return null;
    }

    static void Append(Scratch scratch, string text)
    {
        scratch.Ensure(text.Length);
        text.CopyTo(scratch.Chars.AsSpan(scratch.Length));
        scratch.Length += text.Length;
    }

    /// <summary>A JSON string's text appended to <c>scratch.Chars</c>: one without escapes decoded straight from the line's
    /// bytes (already checked as UTF-8), one with escapes unescaped by the JSON reader into the buffer. Either way no
    /// string is made, and a lone surrogate escape fails as <see cref="JsonElement.GetString"/> does.</summary>
    static void AppendContent(Scratch scratch, JsonElement content)
    {
        var raw = JsonMarshal.GetRawUtf8Value(content);
        scratch.Ensure(raw.Length); // UTF-16 never needs more chars than the UTF-8 bytes, and escapes only shorten
        if (raw.Length >= 2 && raw[0] == (byte)'"' && raw[^1] == (byte)'"' && !raw.Contains((byte)'\\'))
        {
            scratch.Length += Encoding.UTF8.GetChars(raw[1..^1], scratch.Chars.AsSpan(scratch.Length));
            return;
        }
        var reader = new Utf8JsonReader(raw);
        reader.Read();
        scratch.Length += reader.CopyString(scratch.Chars.AsSpan(scratch.Length));
    }

    /// <summary>The conversation rendered into <c>scratch.Chars</c> as a record side: SftSample.FromPromptIds /
    /// DpoSide.Build without their arrays (input_ids = ids[:max_length] padded, the loss mask, mask[1:]), or for reason
    /// data the normaliser and ReasonLossMask's weights. The mask is found with vectorized searches and written as
    /// bytes; LossMaskTests and SampleEncoderTests hold it to <see cref="LossMask.Generate(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int, Span{int})"/>.</summary>
    void AppendConversation(RecordBuffer record, Scratch scratch, bool reason)
    {
        scratch.Ids.Clear();
        tokenizer.EncodeTo(scratch.Chars.AsSpan(0, scratch.Length), scratch.Ids);
        if (scratch.Chars.Length > 1 << 20) scratch.Chars = new char[1024]; // a huge line's buffer is not kept
        var ids = CollectionsMarshal.AsSpan(scratch.Ids);
        var kept = Math.Min(ids.Length, maxLength);
        var padded = scratch.Padded.AsSpan();
        ids[..kept].CopyTo(padded);
        padded[kept..].Fill(_tokens.PadId);
        var mask = scratch.MaskBytes.AsSpan(); // mask[1:], one byte per target
        var ones = FillShiftedMask(padded, mask);
        if (reason)
        {
            // ReasonLossMask.Build over Y = input_ids[1:]: the normaliser is the mask's sum, tag targets weigh 10.
            var y = padded[1..];
            // past the kept ids Y is all padding: a tag only if the pad id is one
            var tagged = _isTag[_tokens.PadId] ? y.Length : Math.Max(0, kept - 1);
            for (var i = 0; i < tagged; i++)
                if (_isTag[y[i]]) mask[i] = ReasonLossMask.TagWeight;
            ShardFormat.AppendInt32(record, ones);
        }
        ShardFormat.AppendSide(record, padded, _tokens.PadId, mask, tokenBytes);
    }

    /// <summary>LossMask.Generate over <paramref name="padded"/> (max_length ids), shifted by one, as 0/1 bytes; returns
    /// the number of ones. The scan for each assistant header and turn end is a vectorized IndexOf, which finds the
    /// same first match as the reference's position-by-position StartsWith.</summary>
    int FillShiftedMask(ReadOnlySpan<int> padded, Span<byte> shifted)
    {
        shifted.Clear();
        var header = _tokens.AssistantStartIds.AsSpan();
        var turnEnd = _tokens.TurnEndIds.AsSpan();
        var n = padded.Length;
        var ones = 0;
        var i = 0;
        while (i < n)
        {
            var k = padded[i..].IndexOf(header);
            if (k < 0) break;
            var start = i + k + header.Length;
            var e = padded[start..].IndexOf(turnEnd);
            var end = e < 0 ? n : start + e;
            var stop = Math.Min(Math.Min(end + turnEnd.Length + 1, maxLength), n);
            if (stop > start + 1)
            {
                shifted[start..(stop - 1)].Fill(1); // mask[j] = 1 for j in start+1 .. stop-1
                ones += stop - 1 - start;
            }
            i = end < n ? end + turnEnd.Length : n;
        }
        return ones;
    }

    string? Dpo(JsonElement root, RecordBuffer record, Scratch scratch)
    {
        if (!root.TryGetProperty("chosen", out var chosen)) return "missing field \"chosen\"";
        if (!root.TryGetProperty("rejected", out var rejected)) return "missing field \"rejected\"";
        if (chosen.ValueKind != JsonValueKind.Array) return $"\"chosen\" must be an array, got {chosen.ValueKind}";
        if (rejected.ValueKind != JsonValueKind.Array) return $"\"rejected\" must be an array, got {rejected.ValueKind}";
        if ((ConversationTurns.CheckFields(chosen, "chosen") ?? ConversationTurns.CheckFields(rejected, "rejected")) is { } newer) return newer;
        // DpoSample.Build: each side rendered (roles respected) and masked as SFT; the caller truncates on a failure.
        if ((CheckMessages(chosen) ?? CheckMessages(rejected)) is { } bad) return bad;
        if (RenderMessages(chosen, scratch) is { } chosenError) return chosenError;
        AppendConversation(record, scratch, reason: false);
        if (RenderMessages(rejected, scratch) is { } rejectedError) return rejectedError;
        AppendConversation(record, scratch, reason: false);
        return null;
    }
}
