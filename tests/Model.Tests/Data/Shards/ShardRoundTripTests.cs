using System.Text.Json;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tests.Tokenizer;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data.Shards;

/// <summary>Prepared samples equal the per-sample builders' output (and the Python fixtures), for every stage.</summary>
public sealed class ShardRoundTripTests
{
    static BpeTokenizer Tok => TokenizerFixtures.MiniMind;

    static float[] F(int[] mask) => [.. mask.Select(m => (float)m)];

    static void AssertSample(int[] x, int[] y, int[] mask, TrainingSample got)
    {
        Assert.Equal(x, got.X);
        Assert.Equal(y, got.Y);
        Assert.Equal(F(mask), got.LossMask);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Pretrain_shards_should_rebuild_the_builder_samples(int tokenBytes)
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "pretrain.jsonl", 300);
        // shardBytes small: several shards, so the global → shard lookup is exercised too.
        var report = ShardTestData.Prepare(src, DataStage.Pretrain, tmp.File("out"), maxLength: 48, shardBytes: 8 << 10, tokenBytes: tokenBytes);
        Assert.Equal(300, report.Samples);
        Assert.True(report.Manifest.Shards.Count > 1);
        Assert.Equal(tokenBytes, report.Manifest.TokenBytes);
        using var ds = ShardDataset.Open(report.OutputDir);
        Assert.Equal(300, ds.Count);
        Assert.Equal(47, ds.SeqLen);
        var pad = SampleTokens.From(Tok).PadId;
        var i = 0;
        foreach (var line in File.ReadLines(src))
        {
            var text = JsonDocument.Parse(line).RootElement.GetProperty("text").GetString()!;
            var s = PretrainSample.Build(Tok, text, 48, pad);
            AssertSample(s.X, s.Y, s.LossMaskShifted, ds.Get(i++));
        }
    }

    [Fact]
    public void Sft_shards_should_rebuild_the_builder_samples()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "sft.jsonl", 120);
        var report = ShardTestData.Prepare(src, DataStage.Sft, tmp.File("out"), maxLength: 96);
        using var ds = ShardDataset.Open(report.OutputDir);
        var tokens = SampleTokens.From(Tok);
        var i = 0;
        foreach (var line in File.ReadLines(src))
        {
            var s = SftSample.Build(Tok, Contents(line), 96, tokens);
            AssertSample(s.X, s.Y, s.LossMaskShifted, ds.Get(i));
            Assert.Equal(s.LossMaskShifted.Sum(), ds.LossNormalizer(i));
            i++;
        }
        Assert.Equal(i, ds.Count);
    }

    [Fact]
    public void Reason_shards_should_rebuild_the_weighted_mask_and_normaliser()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "reason.jsonl", 100);
        var report = ShardTestData.Prepare(src, DataStage.Reason, tmp.File("out"), maxLength: 128);
        using var ds = ShardDataset.Open(report.OutputDir);
        var tokens = SampleTokens.From(Tok);
        var tags = ReasonLossMask.TagIds(Tok);
        var i = 0;
        foreach (var line in File.ReadLines(src))
        {
            var s = SftSample.Build(Tok, Contents(line), 128, tokens);
            var reason = ReasonLossMask.Build(s.Y, s.LossMaskShifted, tags);
            AssertSample(s.X, s.Y, reason.Mask, ds.Get(i));
            Assert.Equal(reason.Normalizer, ds.LossNormalizer(i));
            i++;
        }
    }

    [Fact]
    public void Dpo_shards_should_rebuild_both_sides()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "dpo.jsonl", 80);
        var report = ShardTestData.Prepare(src, DataStage.Dpo, tmp.File("out"), maxLength: 64);
        using var ds = DpoShardDataset.Open(report.OutputDir);
        Assert.Throws<InvalidDataException>(() => ShardDataset.Open(report.OutputDir));
        var tokens = SampleTokens.From(Tok);
        var i = 0;
        foreach (var line in File.ReadLines(src))
        {
            var root = JsonDocument.Parse(line).RootElement;
            var s = DpoSample.Build(Tok, ChatMessage.ListFromJson(root.GetProperty("chosen")), ChatMessage.ListFromJson(root.GetProperty("rejected")), 64, tokens);
            var got = ds.Get(i++);
            AssertSample(s.Chosen.X, s.Chosen.Y, s.Chosen.Mask, got.Chosen);
            AssertSample(s.Rejected.X, s.Rejected.Y, s.Rejected.Mask, got.Rejected);
        }
        Assert.Equal(80, ds.Count);
    }

    [Fact]
    public void Sft_and_reason_fixture_should_match_the_python_reference()
    {
        using var tmp = new TempDir();
        var fixture = Path.Combine(RepoPaths.TokenizerFixtures, "sft_loss_mask.jsonl");
        var records = TokenizerFixtures.ReadJsonl("sft_loss_mask.jsonl");
        using var sft = ShardDataset.Open(ShardTestData.Prepare(fixture, DataStage.Sft, tmp.File("sft"), maxLength: 64).OutputDir);
        using var reason = ShardDataset.Open(ShardTestData.Prepare(fixture, DataStage.Reason, tmp.File("reason"), maxLength: 64).OutputDir);
        Assert.Equal(records.Count, sft.Count);
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            AssertSample(r.Ints("X"), r.Ints("Y"), r.Ints("loss_mask_shifted"), sft.Get(i));
            AssertSample(r.Ints("X"), r.Ints("Y"), r.Ints("distill_reason_loss_mask"), reason.Get(i));
            Assert.Equal(r.GetProperty("distill_reason_loss_mask_sum").GetInt32(), reason.LossNormalizer(i));
        }
    }

    [Fact]
    public void Dpo_and_pretrain_fixtures_should_match_the_python_reference()
    {
        using var tmp = new TempDir();
        var dpoRecords = TokenizerFixtures.ReadJsonl("dpo_loss_mask.jsonl");
        using var dpo = DpoShardDataset.Open(ShardTestData.Prepare(
            Path.Combine(RepoPaths.TokenizerFixtures, "dpo_loss_mask.jsonl"), DataStage.Dpo, tmp.File("dpo"), maxLength: 64).OutputDir);
        for (var i = 0; i < dpoRecords.Count; i++)
        {
            var r = dpoRecords[i];
            var got = dpo.Get(i);
            AssertSample(r.Ints("x_chosen"), r.Ints("y_chosen"), r.Ints("mask_chosen"), got.Chosen);
            AssertSample(r.Ints("x_rejected"), r.Ints("y_rejected"), r.Ints("mask_rejected"), got.Rejected);
        }
        var ptRecords = TokenizerFixtures.ReadJsonl("pretrain_loss_mask.jsonl");
        using var pt = ShardDataset.Open(ShardTestData.Prepare(
            Path.Combine(RepoPaths.TokenizerFixtures, "pretrain_loss_mask.jsonl"), DataStage.Pretrain, tmp.File("pt"), maxLength: 64).OutputDir);
        for (var i = 0; i < ptRecords.Count; i++)
            AssertSample(ptRecords[i].Ints("X"), ptRecords[i].Ints("Y"), ptRecords[i].Ints("loss_mask_shifted"), pt.Get(i));
    }

    static string?[] Contents(string line) =>
        [.. JsonDocument.Parse(line).RootElement.GetProperty("conversations").EnumerateArray().Select(c => c.GetProperty("content").GetString())];
}
