using System.Text;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Tokenizer;

namespace MiniMind.Model.Tests.Data.Shards;

/// <summary>Temp directories and small inputs for the shard tests.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "minimind-shards-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        var p = File(name);
        System.IO.File.WriteAllText(p, content, new UTF8Encoding(false));
        return p;
    }

    public string Write(string name, byte[] content)
    {
        var p = File(name);
        System.IO.File.WriteAllBytes(p, content);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class ShardTestData
{
    public static string Tokenizer => TokenizerFixtures.TokenizerJsonPath;

    public static string Dataset(string name) => System.IO.Path.Combine(TestPaths.RepoRoot, "dataset", name);

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
