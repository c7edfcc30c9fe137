using System.Text.Json;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data.Shards;

/// <summary>
/// One JSONL line → one shard record, through the existing per-sample builders (<see cref="PretrainSample"/>,
/// <see cref="SftSample"/>, <see cref="ReasonLossMask"/>, <see cref="DpoSample"/>), so a prepared sample equals
/// what those builders give. Thread-safe (the tokenizer is).
/// </summary>
internal sealed class SampleEncoder(BpeTokenizer tokenizer, DataStage stage, int maxLength, int tokenBytes)
{
    readonly SampleTokens _tokens = SampleTokens.From(tokenizer);
    readonly int[] _tagIds = stage == DataStage.Reason ? ReasonLossMask.TagIds(tokenizer) : [];

    public int PadId => _tokens.PadId;

    /// <summary>Appends the record for <paramref name="line"/> to <paramref name="record"/>, or returns why it cannot
    /// (the caller adds file and line). <paramref name="record"/> is left unchanged on failure.</summary>
    public string? TryEncode(ReadOnlyMemory<byte> line, List<byte> record)
    {
        var mark = record.Count;
        var error = Jsonl.TryParse(line, root => stage switch
        {
            DataStage.Pretrain => Pretrain(root, record),
            DataStage.Sft or DataStage.Reason => Sft(root, record),
            DataStage.Dpo => Dpo(root, record),
            _ => throw new ArgumentOutOfRangeException(nameof(line), stage.ToString()),
        }, out var reason) ?? reason;
        if (error is not null) record.RemoveRange(mark, record.Count - mark);
        return error;
    }

    string? Pretrain(JsonElement root, List<byte> record)
    {
        if (!root.TryGetProperty("text", out var text)) return "missing field \"text\"";
        if (text.ValueKind != JsonValueKind.String) return $"\"text\" must be a string, got {text.ValueKind}";
        var s = PretrainSample.Build(tokenizer, text.GetString()!, maxLength, _tokens.PadId);
        ShardFormat.AppendSide(record, s.InputIds, _tokens.PadId, [], hasMask: false, tokenBytes);
        return null;
    }

    string? Sft(JsonElement root, List<byte> record)
    {
        if (!root.TryGetProperty("conversations", out var turns)) return "missing field \"conversations\"";
        // roles by position, as MiniMind2's SFTDataset; newer records (tool turns, reasoning_content, …) are refused
        var messages = ConversationTurns.Read(turns, "conversations", out var error);
        if (messages is null) return error;
        var s = SftSample.Build(tokenizer, messages, maxLength, _tokens);
        if (stage == DataStage.Reason)
        {
            var reason = ReasonLossMask.Build(s.Y, s.LossMaskShifted, _tagIds);
            ShardFormat.AppendInt32(record, reason.Normalizer);
            ShardFormat.AppendSide(record, s.InputIds, _tokens.PadId, reason.Mask, hasMask: true, tokenBytes);
        }
        else ShardFormat.AppendSide(record, s.InputIds, _tokens.PadId, s.LossMaskShifted, hasMask: true, tokenBytes);
        return null;
    }

    string? Dpo(JsonElement root, List<byte> record)
    {
        if (!root.TryGetProperty("chosen", out var chosen)) return "missing field \"chosen\"";
        if (!root.TryGetProperty("rejected", out var rejected)) return "missing field \"rejected\"";
        if (chosen.ValueKind != JsonValueKind.Array) return $"\"chosen\" must be an array, got {chosen.ValueKind}";
        if (rejected.ValueKind != JsonValueKind.Array) return $"\"rejected\" must be an array, got {rejected.ValueKind}";
        if ((ConversationTurns.CheckFields(chosen, "chosen") ?? ConversationTurns.CheckFields(rejected, "rejected")) is { } newer) return newer;
        var s = DpoSample.Build(tokenizer, ChatMessage.ListFromJson(chosen), ChatMessage.ListFromJson(rejected), maxLength, _tokens);
        ShardFormat.AppendSide(record, s.Chosen.InputIds, _tokens.PadId, s.Chosen.Mask, hasMask: true, tokenBytes);
        ShardFormat.AppendSide(record, s.Rejected.InputIds, _tokens.PadId, s.Rejected.Mask, hasMask: true, tokenBytes);
        return null;
    }
}
