using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data.Shards;

/// <summary>The sample encoder's allocation-free paths against the per-sample builders they replace, record for record.</summary>
public sealed class SampleEncoderTests
{
    const int MaxLength = 64;

    static readonly BpeTokenizer Tok = BpeTokenizer.FromFile(ShardTestData.Tokenizer);

    /// <summary>Lines that take every branch: escapes (decoded by GetString) and none (decoded from the bytes), multi-byte
    /// and astral UTF-8, special-token strings, a text longer than max_length, one that ends in pad tokens (trimmed).</summary>
    static readonly string[] PretrainExtra =
    [
        "{\"text\": \"tab\\tand \\\"quote\\\" \\u00e9 \\ud83d\\ude00 \\/ end\"}",
        "{\"text\": \"你好，世界！ 𝐀𝟙 😀 e\u0301 <|im_start|>user\"}",
        "{\"text\": \"" + string.Concat(Enumerable.Repeat("長い文章 long text ", 40)) + "\"}",
        "{\"text\": \"ends in padding <|endoftext|><|endoftext|>\"}",
        "{\"other\": 1, \"text\": \"x\", \"more\": [1, {\"text\": \"nested\"}]}",
        "{\"text\": \"\"}",
    ];

    static readonly string[] SftExtra =
    [
        "{\"conversations\": [{\"content\": \"say \\\"hi\\\" \\ud83d\\ude00\"}, {\"content\": \"你好 😀\\n<think>x</think>\"}]}",
        "{\"conversations\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"content\": \"" + string.Concat(Enumerable.Repeat("問題 question ", 30)) + "\"}, {\"content\": \"ok\"}]}",
    ];

    /// <summary>DPO sides the template renders in every way: a leading system message, roles it skips (any other,
    /// missing, null; their content may be null), escapes, special-token strings in content, a side longer than max_length.</summary>
    static readonly string[] DpoExtra =
    [
        "{\"chosen\": [{\"role\": \"system\", \"content\": \"be \\\"brief\\\"\\n\"}, {\"role\": \"user\", \"content\": \"hi 😀\"}, {\"role\": \"assistant\", \"content\": \"hello<|im_end|>x\"}], " +
            "\"rejected\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"critic\", \"content\": null}, {\"content\": \"no role\"}, {\"role\": null, \"content\": null}, {\"role\": \"assistant\", \"content\": \"\\u00e9\"}]}",
        "{\"chosen\": [{\"role\": \"assistant\", \"content\": \"assistant first\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"" +
            string.Concat(Enumerable.Repeat("長い long ", 40)) + "\"}, {\"role\": \"assistant\", \"content\": \"cut\"}]}",
    ];

    /// <summary>Bad lines: the same error text as the per-sample path (ChatMessage.ListFromJson, then DpoSample.Build).</summary>
    static readonly string[] DpoBad =
    [
        "{\"chosen\": [], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"x\"}], \"rejected\": []}",
        "{\"chosen\": [{\"role\": \"user\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
        "{\"chosen\": [{\"role\": \"system\", \"content\": null}], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"x\"}], \"rejected\": [{\"role\": 3, \"content\": \"x\"}]}",
        "{\"chosen\": [{\"role\": \"user\", \"content\": [1]}], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
        "{\"chosen\": [\"user\"], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
        "{\"chosen\": [{\"role\": \"user\", \"content\": \"\\ud800\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}]}",
    ];

    [Fact]
    public void Dpo_bad_lines_should_give_the_per_sample_paths_error()
    {
        var tokens = SampleTokens.From(Tok);
        var encoder = new SampleEncoder(Tok, DataStage.Dpo, MaxLength, tokenBytes: 2);
        var scratch = encoder.NewScratch();
        using var record = new RecordBuffer(16);
        foreach (var line in DpoBad)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            var expected = Jsonl.TryParse(bytes, root => DpoSample.Build(Tok, ChatMessage.ListFromJson(root.GetProperty("chosen")),
                ChatMessage.ListFromJson(root.GetProperty("rejected")), MaxLength, tokens), out _);
            Assert.NotNull(expected);
            Assert.Equal(expected, encoder.TryEncode(bytes, record, scratch));
            Assert.Equal(0, record.Count);
        }
    }

    [Theory]
    [InlineData("tool")]
    [InlineData("function")]
    [InlineData("ipython")]
    public void A_dpo_tool_turn_should_be_refused_naming_the_side_and_role(string role)
    {
        var encoder = new SampleEncoder(Tok, DataStage.Dpo, MaxLength, tokenBytes: 2);
        using var record = new RecordBuffer(16);
        var line = "{\"chosen\": [{\"role\": \"user\", \"content\": \"x\"}], \"rejected\": [{\"role\": \"user\", \"content\": \"x\"}, " +
            "{\"role\": \"" + role + "\", \"content\": \"y\"}]}";
        var error = encoder.TryEncode(Encoding.UTF8.GetBytes(line), record, encoder.NewScratch());
        Assert.StartsWith($"rejected[1].role: '{role}' (a tool result", error, StringComparison.Ordinal);
        Assert.Equal(0, record.Count);
    }

    [Fact]
    public void A_lone_surrogate_escape_in_a_turn_should_be_an_invalid_string()
    {
        var encoder = new SampleEncoder(Tok, DataStage.Sft, MaxLength, tokenBytes: 2);
        using var record = new RecordBuffer(16);
        var error = encoder.TryEncode("{\"conversations\": [{\"content\": \"a\"}, {\"content\": \"b \\ud800\"}]}"u8.ToArray(), record, encoder.NewScratch());
        Assert.StartsWith("invalid string", error, StringComparison.Ordinal);
        Assert.Equal(0, record.Count);
    }

    [Theory]
    [InlineData(DataStage.Pretrain, "pretrain.jsonl")]
    [InlineData(DataStage.Sft, "sft.jsonl")]
    [InlineData(DataStage.Reason, "reason.jsonl")]
    [InlineData(DataStage.Dpo, "dpo.jsonl")]
    public void Records_should_equal_the_per_sample_builders_line_for_line(DataStage stage, string file)
    {
        var lines = File.ReadLines(ShardTestData.Dataset(file)).Take(150)
            .Concat(stage switch { DataStage.Pretrain => PretrainExtra, DataStage.Sft or DataStage.Reason => SftExtra, _ => DpoExtra }).ToArray();
        var encoder = new SampleEncoder(Tok, stage, MaxLength, tokenBytes: 2);
        var scratch = encoder.NewScratch();
        using var record = new RecordBuffer(16);
        for (var i = 0; i < lines.Length; i++)
        {
            record.Truncate(0);
            var error = encoder.TryEncode(Encoding.UTF8.GetBytes(lines[i]), record, scratch);
            Assert.Null(error);
            Assert.True(Expected(stage, lines[i]).AsSpan().SequenceEqual(record.Written), $"{file} line {i + 1}: record differs from the builders'");
        }
    }

    [Fact]
    public void A_failed_line_should_leave_the_buffer_as_it_was()
    {
        var encoder = new SampleEncoder(Tok, DataStage.Pretrain, MaxLength, tokenBytes: 2);
        var scratch = encoder.NewScratch();
        using var record = new RecordBuffer(16);
        Assert.Null(encoder.TryEncode("{\"text\": \"first\"}"u8.ToArray(), record, scratch));
        var before = record.Written.ToArray();
        Assert.Contains("invalid string", encoder.TryEncode("{\"text\": \"\\ud800\"}"u8.ToArray(), record, scratch), StringComparison.Ordinal);
        Assert.Contains("missing field", encoder.TryEncode("{\"txt\": \"x\"}"u8.ToArray(), record, scratch), StringComparison.Ordinal);
        Assert.Equal(before, record.Written.ToArray());
    }

    /// <summary>What the encoder wrote before: the builders' arrays through <see cref="ShardFormat.AppendSide(List{byte}, ReadOnlySpan{int}, int, ReadOnlySpan{int}, bool, int)"/>.</summary>
    static byte[] Expected(DataStage stage, string line)
    {
        var tokens = SampleTokens.From(Tok);
        var bytes = new List<byte>();
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        switch (stage)
        {
            case DataStage.Pretrain:
                var p = PretrainSample.Build(Tok, root.GetProperty("text").GetString()!, MaxLength, tokens.PadId);
                ShardFormat.AppendSide(bytes, p.InputIds, tokens.PadId, [], hasMask: false, tokenBytes: 2);
                break;
            case DataStage.Sft or DataStage.Reason:
                var messages = ConversationTurns.Read(root.GetProperty("conversations"), "conversations", out var error) ?? throw new InvalidDataException(error);
                var s = SftSample.Build(Tok, messages, MaxLength, tokens);
                if (stage == DataStage.Reason)
                {
                    var r = ReasonLossMask.Build(s.Y, s.LossMaskShifted, ReasonLossMask.TagIds(Tok));
                    var u32 = new byte[4];
                    BinaryPrimitives.WriteInt32LittleEndian(u32, r.Normalizer);
                    bytes.AddRange(u32);
                    ShardFormat.AppendSide(bytes, s.InputIds, tokens.PadId, r.Mask, hasMask: true, tokenBytes: 2);
                }
                else ShardFormat.AppendSide(bytes, s.InputIds, tokens.PadId, s.LossMaskShifted, hasMask: true, tokenBytes: 2);
                break;
            default:
                var d = DpoSample.Build(Tok, ChatMessage.ListFromJson(root.GetProperty("chosen")), ChatMessage.ListFromJson(root.GetProperty("rejected")), MaxLength, tokens);
                ShardFormat.AppendSide(bytes, d.Chosen.InputIds, tokens.PadId, d.Chosen.Mask, hasMask: true, tokenBytes: 2);
                ShardFormat.AppendSide(bytes, d.Rejected.InputIds, tokens.PadId, d.Rejected.Mask, hasMask: true, tokenBytes: 2);
                break;
        }
        return [.. bytes];
    }
}
