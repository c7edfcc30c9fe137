using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>TorchSharp's native library must load in every way users start the program (the GLIBCXX weak patch of
/// Directory.Build.targets): the built executable and a `dotnet publish` output, each in a fresh process.</summary>
public class NativeLoadingTests
{
    static string[] GenerateArgs()
    {
        var dir = Paths.ModelFixture("dense_tiny");
        return ["generate", "--config", "tiny", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--prompt-ids", "3224", "--max-new-tokens", "3", "--greedy", "--threads", "1"];
    }

    [Fact]
    public void The_built_minimind_executable_runs_a_model()
    {
        var exe = Path.Combine(Paths.RepoRoot, "src", "Cli", "bin", Paths.Configuration, "net10.0", "minimind");
        Assert.True(File.Exists(exe), $"missing {exe}");
        var r = CliRunner.RunProcess(exe, GenerateArgs(), TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"^\[\d+,\d+,\d+\]$", r.LastLine);
    }

    [Fact]
    public void A_dotnet_publish_output_runs_a_model()
    {
        var dir = Paths.TempDir();
        var publish = CliRunner.RunProcess("dotnet",
            ["publish", Path.Combine(Paths.RepoRoot, "src", "Cli", "MiniMind.Cli.csproj"), "-c", Paths.Configuration, "-o", dir, "--nologo", "-v", "q"],
            TimeSpan.FromMinutes(8));
        Assert.True(publish.ExitCode == 0, publish.Out + publish.Error);
        var r = CliRunner.RunProcess(Path.Combine(dir, "minimind"), GenerateArgs(), TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"^\[\d+,\d+,\d+\]$", r.LastLine);
        Directory.Delete(dir, recursive: true);
    }
}
