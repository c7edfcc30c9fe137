namespace MiniMind.Cli.Tests;

public static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Shared { get; } = Environment.GetEnvironmentVariable("MINIMIND_SHARED") is { Length: > 0 } s
        ? s : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string ModelFixture(string set) => Path.Combine(Shared, "fixtures", "model", set);

    /// <summary>"Debug" or "Release": the configuration this test assembly was built with.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "minimind-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MiniMind.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"MiniMind.Actors.sln not found above {AppContext.BaseDirectory}");
    }
}
