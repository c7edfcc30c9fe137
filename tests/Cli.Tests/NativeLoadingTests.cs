using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>TorchSharp's native library must load in every way users start the program (the GLIBCXX weak patch of
/// Directory.Build.targets): the built executable and a `dotnet publish` output, each in a fresh process.</summary>
public class NativeLoadingTests
{
    static string[] GenerateArgs()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        return ["generate", "--config", "tiny", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--prompt-ids", "3224", "--max-new-tokens", "3", "--greedy", "--threads", "1"];
    }

    [Fact]
    public void The_built_minimind_executable_runs_a_model()
    {
        var exe = Path.Combine(RepoPaths.CliBin, "minimind");
        Assert.True(File.Exists(exe), $"missing {exe}");
        var r = ChildProcess.Run(exe, GenerateArgs(), TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"^\[\d+,\d+,\d+\]$", r.LastLine);
    }

    [Fact]
    public void A_dotnet_publish_output_runs_a_model()
    {
        var dir = TempDir.Create();
        var publish = ChildProcess.Run("dotnet",
            ["publish", Path.Combine(RepoPaths.Root, "src", "Cli", "MiniMind.Cli.csproj"), "-c", RepoPaths.Configuration, "-o", dir, "--nologo", "-v", "q"],
            TimeSpan.FromMinutes(8));
        Assert.True(publish.ExitCode == 0, publish.Out + publish.Error);
        var r = ChildProcess.Run(Path.Combine(dir, "minimind"), GenerateArgs(), TimeSpan.FromMinutes(2));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"^\[\d+,\d+,\d+\]$", r.LastLine);
        Directory.Delete(dir, recursive: true);
    }
}
