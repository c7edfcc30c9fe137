namespace MiniMind.Model.Tests.Fixtures;

/// <summary>Where the repository and the read-only ../shared folder are, from a test's point of view.</summary>
public static class TestPaths
{
    /// <summary>The checkout root: the nearest ancestor of the test binary that holds MiniMind.Actors.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared beside the checkout (MINIMIND_SHARED overrides).</summary>
    public static string Shared { get; } = FindShared();

    public static string ModelFixtures => Path.Combine(Shared, "fixtures", "model");
    public static string TokenizerFixtures => Path.Combine(Shared, "fixtures", "tokenizer");

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MiniMind.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"MiniMind.Actors.sln not found above {AppContext.BaseDirectory}");
    }

    static string FindShared()
    {
        var env = Environment.GetEnvironmentVariable("MINIMIND_SHARED");
        var path = string.IsNullOrEmpty(env) ? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared")) : env;
        if (!Directory.Exists(Path.Combine(path, "fixtures")))
            throw new InvalidOperationException($"the shared fixtures folder is missing: {path}/fixtures (set MINIMIND_SHARED to its location)");
        return path;
    }
}
