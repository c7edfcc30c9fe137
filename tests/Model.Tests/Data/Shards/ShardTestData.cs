using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Tokenizer;

namespace MiniMind.Model.Tests.Data.Shards;

/// <summary>Small inputs for the shard tests.</summary>
internal static class ShardTestData
{
    public static string Tokenizer => TokenizerFixtures.TokenizerJsonPath;

    public static string Dataset(string name) => RepoPaths.Dataset(name);

    /// <summary>The first <paramref name="lines"/> lines of dataset/<paramref name="name"/> copied into <paramref name="dir"/>.</summary>
    public static string Subset(TempDir dir, string name, int lines) =>
        dir.Write(name, string.Join('\n', File.ReadLines(Dataset(name)).Take(lines)) + "\n");

    public static DataPrepareReport Prepare(string source, DataStage stage, string outDir, int maxLength = 64, int threads = 2,
        bool skip = false, long shardBytes = 256L << 20, int? tokenBytes = null, int chunkBytes = 4096) =>
        DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = source, Tokenizer = Tokenizer, Stage = stage, OutputDir = outDir, MaxLength = maxLength,
            Threads = threads, SkipBadLines = skip, ShardBytes = shardBytes, TokenBytes = tokenBytes, ChunkBytes = chunkBytes,
        });
}
