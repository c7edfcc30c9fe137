namespace MiniMind.Cli;

/// <summary>Resolves the repository's default files (sample data, tokenizer) from the working directory or from
/// the folders above the executable, so that `dotnet run` and a built `minimind` find them alike.</summary>
public static class DefaultPaths
{
    public const string Tokenizer = "dataset/tokenizer/tokenizer.json";

    /// <summary><paramref name="path"/> itself when it exists or is absolute; otherwise the first match of the relative
    /// path above the current directory or the executable; otherwise <paramref name="path"/> unchanged (the caller's
    /// file-not-found error then names it).</summary>
    public static string Resolve(string path)
    {
        if (Path.IsPathRooted(path) || File.Exists(path) || Directory.Exists(path)) return path;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, path);
                if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
            }
        return path;
    }
}
