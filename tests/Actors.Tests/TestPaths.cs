namespace MiniMind.Actors.Tests;

/// <summary>The checkout root and the read-only ../shared fixtures, from a test's point of view.</summary>
static class TestPaths
{
    public static string Repo { get; } = FindRepo();

    public static string Shared { get; } = Environment.GetEnvironmentVariable("MINIMIND_SHARED") is { Length: > 0 } s
        ? s : Path.GetFullPath(Path.Combine(Repo, "..", "shared"));

    public static string ModelFixture(string set, string file) => Path.Combine(Shared, "fixtures", "model", set, file);

    public static string Preset(string name) => Path.Combine(Repo, "config", "presets", name + ".json");

    public static string Tokenizer => Path.Combine(Repo, "dataset", "tokenizer", "tokenizer.json");

    /// <summary>A raw little-endian int64 fixture tensor (<c>.bin</c>) as ints.</summary>
    public static int[] Int64Bin(string set, string name)
    {
        var bytes = File.ReadAllBytes(ModelFixture(set, name + ".bin"));
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(v => checked((int)v)).ToArray();
    }

    static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "MiniMind.Actors.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root (MiniMind.Actors.sln) not found above " + AppContext.BaseDirectory);
    }
}
