namespace MiniMind.Tests.Common;

/// <summary>The checkout and the read-only ../shared fixtures, from a test's point of view.</summary>
public static class RepoPaths
{
    /// <summary>The checkout root: the nearest ancestor of the test binary that holds MiniMind.Actors.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>../shared beside the checkout (MINIMIND_SHARED overrides).</summary>
    public static string Shared { get; } = Environment.GetEnvironmentVariable("MINIMIND_SHARED") is { Length: > 0 } s
        ? s : Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    /// <summary>The PyTorch reference fixtures of the model (one folder per set: dense_tiny, moe_tiny…).</summary>
    public static string ModelFixtures => Fixtures("model");

    public static string TokenizerFixtures => Fixtures("tokenizer");

    /// <summary>A model fixture set's folder, or a file in it.</summary>
    public static string ModelFixture(string set, string file = "") => Path.Combine(ModelFixtures, set, file);

    public static string Preset(string name) => Path.Combine(Root, "config", "presets", name + ".json");

    public static string Dataset(string name) => Path.Combine(Root, "dataset", name);

    public static string Tokenizer => Path.Combine(Root, "dataset", "tokenizer", "tokenizer.json");

    /// <summary>"Debug" or "Release": the configuration this test assembly was built with.</summary>
    public static string Configuration { get; } =
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!);

    /// <summary>The CLI's build output folder for <see cref="Configuration"/> (<c>minimind</c>, <c>minimind.dll</c>).</summary>
    public static string CliBin => Path.Combine(Root, "src", "Cli", "bin", Configuration, "net10.0");

    /// <summary>The CLI, to start as <c>dotnet minimind.dll …</c>.</summary>
    public static string Cli => Path.Combine(CliBin, "minimind.dll");

    /// <summary>The bench, to start as <c>dotnet minimind-bench.dll …</c>.</summary>
    public static string Bench => Path.Combine(Root, "bench", "bin", Configuration, "net10.0", "minimind-bench.dll");

    static string Fixtures(string kind)
    {
        var path = Path.Combine(Shared, "fixtures", kind);
        return Directory.Exists(path) ? path
            : throw new InvalidOperationException($"the shared fixtures folder is missing: {path} (set MINIMIND_SHARED to the folder that holds fixtures/)");
    }

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MiniMind.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException($"MiniMind.Actors.sln not found above {AppContext.BaseDirectory}");
    }
}
