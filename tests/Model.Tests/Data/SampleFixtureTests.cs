using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Tests.Tokenizer;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data;

/// <summary>sft_loss_mask.jsonl, dpo_loss_mask.jsonl and pretrain_loss_mask.jsonl, field by field.</summary>
public sealed class SampleFixtureTests
{
    static readonly IReadOnlyList<JsonElement> s_sft = TokenizerFixtures.ReadJsonl("sft_loss_mask.jsonl");
    static readonly IReadOnlyList<JsonElement> s_dpo = TokenizerFixtures.ReadJsonl("dpo_loss_mask.jsonl");
    static readonly IReadOnlyList<JsonElement> s_pretrain = TokenizerFixtures.ReadJsonl("pretrain_loss_mask.jsonl");

    static BpeTokenizer Tok => TokenizerFixtures.MiniMind;

    public static TheoryData<string> SftIds => new(s_sft.Select(r => r.Str("id")));
    public static TheoryData<string> DpoIds => new(s_dpo.Select(r => r.Str("id")));
    public static TheoryData<string> PretrainIds => new(s_pretrain.Select(r => r.Str("id")));

    static JsonElement Find(IReadOnlyList<JsonElement> records, string id) => records.Single(r => r.Str("id") == id);

    [Fact]
    public void Fixture_files_should_have_6_sft_2_dpo_and_3_pretrain_records()
    {
        Assert.Equal((6, 2, 3), (s_sft.Count, s_dpo.Count, s_pretrain.Count));
    }

    [Fact]
    public void Sample_tokens_should_match_the_fixture_markers()
    {
        var tokens = SampleTokens.From(Tok);
        var r = s_sft[0];
        Assert.Equal(r.GetProperty("pad_token_id").GetInt32(), tokens.PadId);
        Assert.Equal(r.Ints("bos_id"), tokens.AssistantStartIds);
        Assert.Equal(r.Ints("eos_id"), tokens.TurnEndIds);
    }

    [Theory]
    [MemberData(nameof(SftIds))]
    public void Sft_sample_should_match_the_fixture(string id)
    {
        var r = Find(s_sft, id);
        var conversation = r.GetProperty("conversations").EnumerateArray().Select(c => c.Str("content")).ToArray();
        var sample = SftSample.Build(Tok, conversation, r.GetProperty("max_length").GetInt32(), SampleTokens.From(Tok));

        Assert.Equal(ChatMessage.ListFromJson(r.GetProperty("messages")), ChatMessage.FromConversation(conversation));
        Assert.Equal(r.Str("prompt"), sample.Prompt);
        Assert.Equal(r.Ints("prompt_ids"), sample.PromptIds);
        Assert.Equal(r.GetProperty("truncated").GetBoolean(), sample.Truncated);
        Assert.Equal(r.Ints("input_ids"), sample.InputIds);
        Assert.Equal(r.Ints("loss_mask"), sample.LossMask);
        Assert.Equal(r.Ints("X"), sample.X);
        Assert.Equal(r.Ints("Y"), sample.Y);
        Assert.Equal(r.Ints("loss_mask_shifted"), sample.LossMaskShifted);
    }

    [Theory]
    [MemberData(nameof(SftIds))]
    public void Distill_reason_weighting_should_match_the_fixture(string id)
    {
        var r = Find(s_sft, id);
        var tagIds = ReasonLossMask.TagIds(Tok);
        Assert.Equal(r.Ints("distill_reason_tag_ids"), tagIds);
        var weighted = ReasonLossMask.Build(r.Ints("Y"), r.Ints("loss_mask_shifted"), tagIds);
        Assert.Equal(r.Ints("distill_reason_loss_mask"), weighted.Mask);
        Assert.Equal(r.GetProperty("distill_reason_loss_mask_sum").GetInt32(), weighted.Normalizer);
    }

    [Theory]
    [MemberData(nameof(DpoIds))]
    public void Dpo_sample_should_match_the_fixture(string id)
    {
        var r = Find(s_dpo, id);
        var sample = DpoSample.Build(Tok, ChatMessage.ListFromJson(r.GetProperty("chosen")),
            ChatMessage.ListFromJson(r.GetProperty("rejected")), r.GetProperty("max_length").GetInt32(), SampleTokens.From(Tok));
        AssertSide(r, "chosen", sample.Chosen);
        AssertSide(r, "rejected", sample.Rejected);
    }

    static void AssertSide(JsonElement r, string side, DpoSide s)
    {
        Assert.Equal(r.Str($"{side}_prompt"), s.Prompt);
        Assert.Equal(r.Ints($"{side}_prompt_ids"), s.PromptIds);
        Assert.Equal(r.Ints($"{side}_input_ids"), s.InputIds);
        Assert.Equal(r.Ints($"{side}_loss_mask"), s.LossMask);
        Assert.Equal(r.Ints($"x_{side}"), s.X);
        Assert.Equal(r.Ints($"y_{side}"), s.Y);
        Assert.Equal(r.Ints($"mask_{side}"), s.Mask);
    }

    [Theory]
    [MemberData(nameof(PretrainIds))]
    public void Pretrain_sample_should_match_the_fixture(string id)
    {
        var r = Find(s_pretrain, id);
        var sample = PretrainSample.Build(Tok, r.Str("text"), r.GetProperty("max_length").GetInt32(), r.GetProperty("pad_token_id").GetInt32());
        Assert.Equal(r.Ints("text_ids"), sample.TextIds);
        Assert.Equal(r.Ints("input_ids"), sample.InputIds);
        Assert.Equal(r.Ints("loss_mask"), sample.LossMask);
        Assert.Equal(r.Ints("X"), sample.X);
        Assert.Equal(r.Ints("Y"), sample.Y);
        Assert.Equal(r.Ints("loss_mask_shifted"), sample.LossMaskShifted);
    }
}
