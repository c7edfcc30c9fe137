using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>Runs the minimind root command in-process and captures its output.</summary>
internal static class CliRun
{
    public static string RepoRoot => Paths.RepoRoot;

    public static string Tokenizer => Path.Combine(RepoRoot, "dataset", "tokenizer", "tokenizer.json");

    public static string Dataset(string name) => Path.Combine(RepoRoot, "dataset", name);

    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var r = await CliRunner.RunAsync(args);
        return (r.ExitCode, r.Out, r.Error);
    }
}

internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "minimind-cli-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        System.IO.File.WriteAllText(File(name), content);
        return File(name);
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
