using MiniMind.Model.Data.Shards;
using Xunit;

namespace MiniMind.Model.Tests.Data.Shards;

public sealed class PreparedDataTests
{
    [Fact]
    public void Cache_should_be_reused_until_the_source_changes()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "pretrain.jsonl", 30);
        var cache = tmp.File("cache");
        var logs = new List<string>();
        using (var ds = PreparedData.OpenOrPrepare(src, ShardTestData.Tokenizer, DataStage.Pretrain, 32, cache, logs.Add))
            Assert.Equal(30, ds.Count);
        using (var ds = PreparedData.OpenOrPrepare(src, ShardTestData.Tokenizer, DataStage.Pretrain, 32, cache, logs.Add))
            Assert.Equal(30, ds.Count);
        Assert.StartsWith("preparing", logs[0], StringComparison.Ordinal);
        Assert.StartsWith("using prepared data", logs[1], StringComparison.Ordinal);

        File.AppendAllText(src, "{\"text\": \"one more line\"}\n");
        using (var ds = PreparedData.OpenOrPrepare(src, ShardTestData.Tokenizer, DataStage.Pretrain, 32, cache, logs.Add))
            Assert.Equal(31, ds.Count);
        Assert.Contains("changed since it was prepared", logs[2], StringComparison.Ordinal);

        // Another max_length or stage is another cache entry.
        var (dir64, built) = PreparedData.Ensure(src, ShardTestData.Tokenizer, DataStage.Pretrain, 64, cache);
        Assert.True(built);
        Assert.Equal(2, Directory.GetDirectories(cache).Length);
        Assert.Equal(64, ShardManifest.Read(dir64).MaxLength);
    }

    [Fact]
    public void Stale_reason_should_name_what_differs()
    {
        using var tmp = new TempDir();
        var src = ShardTestData.Subset(tmp, "sft.jsonl", 5);
        var report = ShardTestData.Prepare(src, DataStage.Sft, tmp.File("out"));
        var sha = report.Manifest.TokenizerSha256;
        Assert.Null(PreparedData.StaleReason(report.OutputDir, src, sha, DataStage.Sft, 64));
        Assert.Contains("stage", PreparedData.StaleReason(report.OutputDir, src, sha, DataStage.Reason, 64), StringComparison.Ordinal);
        Assert.Contains("max_length", PreparedData.StaleReason(report.OutputDir, src, sha, DataStage.Sft, 128), StringComparison.Ordinal);
        Assert.Contains("tokenizer", PreparedData.StaleReason(report.OutputDir, src, new string('0', 64), DataStage.Sft, 64), StringComparison.Ordinal);
        File.SetLastWriteTimeUtc(src, DateTime.UtcNow.AddMinutes(1));
        Assert.Contains("changed", PreparedData.StaleReason(report.OutputDir, src, sha, DataStage.Sft, 64), StringComparison.Ordinal);
        File.Delete(Path.Combine(report.OutputDir, ShardFormat.ManifestFileName));
        Assert.Contains("no manifest.json", PreparedData.StaleReason(report.OutputDir, src, sha, DataStage.Sft, 64), StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_shard_should_be_refused()
    {
        using var tmp = new TempDir();
        var report = ShardTestData.Prepare(ShardTestData.Subset(tmp, "pretrain.jsonl", 20), DataStage.Pretrain, tmp.File("out"));
        var shard = Path.Combine(report.OutputDir, report.Manifest.Shards[0].File);
        using (var f = new FileStream(shard, FileMode.Open)) f.SetLength(f.Length - 8);
        Assert.Contains("truncated or corrupt", Assert.Throws<InvalidDataException>(() => ShardDataset.Open(report.OutputDir)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shards_should_be_read_concurrently()
    {
        using var tmp = new TempDir();
        var report = ShardTestData.Prepare(ShardTestData.Subset(tmp, "sft.jsonl", 200), DataStage.Sft, tmp.File("out"), shardBytes: 8 << 10);
        using var ds = ShardDataset.Open(report.OutputDir);
        var expected = Enumerable.Range(0, (int)ds.Count).Select(i => ds.Get(i)).ToArray();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            var rng = new Random(t);
            for (var k = 0; k < 500; k++)
            {
                var i = rng.Next((int)ds.Count);
                var got = ds.Get(i);
                Assert.Equal(expected[i].X, got.X);
                Assert.Equal(expected[i].Y, got.Y);
                Assert.Equal(expected[i].LossMask, got.LossMask);
            }
        });
    }
}
