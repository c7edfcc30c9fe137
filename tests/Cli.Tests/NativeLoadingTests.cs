using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>TorchSharp's native library must load in every way users start the program (the GLIBCXX weak patch of
/// Directory.Build.targets): the built executable and a `dotnet publish` output, each in a fresh process. Both also get
/// the start-up settings (MKL vendor fix, malloc reuse) with no LD_PRELOAD or user step; their switches turn them off.</summary>
public class NativeLoadingTests
{
    static string[] GenerateArgs()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        return ["generate", "--config", "tiny", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--prompt-ids", "3224", "--max-new-tokens", "3", "--greedy", "--threads", "1"];
    }

    /// <summary>The `runtime` line of a one-step `train pretrain` header, run by <paramref name="exe"/> with <paramref name="env"/>.</summary>
    static string TrainRuntimeLine(string exe, Dictionary<string, string> env)
    {
        var runDir = TempDir.Create();
        try
        {
            var r = ChildProcess.Run(exe,
                ["train", "pretrain", "--preset", "tiny", "--run-dir", runDir, "--max-steps", "1", "--batch-size", "2", "--max-seq-len", "16", "--threads", "1",
                 "--data", Path.Combine(RepoPaths.Root, "dataset", "pretrain.jsonl"), "--tokenizer", Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json")],
                TimeSpan.FromMinutes(3), configure: psi => { foreach (var (k, v) in env) psi.Environment[k] = v; });
            Assert.True(r.ExitCode == 0, r.Out + r.Error);
            return Assert.Single(r.Out.Split('\n'), l => l.TrimStart().StartsWith("runtime", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    /// <summary>The runtime line's MKL path: AVX-512 or AVX2 with the fix (or on Intel), generic with it off on another vendor.</summary>
    static void AssertStartupSettings(string exe)
    {
        var on = TrainRuntimeLine(exe, []);
        var off = TrainRuntimeLine(exe, new() { ["MINIMIND_MKL_VENDOR_FIX"] = "0", ["MINIMIND_MALLOC_TUNING"] = "0" });
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        Assert.Matches("MKL (AVX2|AVX-512) path", on);
        Assert.Contains("malloc reuse", on, StringComparison.Ordinal);
        Assert.Contains("glibc defaults", off, StringComparison.Ordinal);
        if (MiniMind.Model.Native.MklVendorFix.CpuVendor() != "GenuineIntel")
        {
            Assert.Contains("vendor fix on", on, StringComparison.Ordinal);
            Assert.Contains("MKL generic path", off, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_built_minimind_executable_takes_MKLs_fast_path_and_reuses_memory_by_default_and_each_has_an_off_switch() =>
        AssertStartupSettings(Path.Combine(RepoPaths.CliBin, "minimind"));

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
        AssertStartupSettings(Path.Combine(dir, "minimind"));
        Directory.Delete(dir, recursive: true);
    }
}
