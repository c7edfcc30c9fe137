using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>`train … --dtype auto|bf16|fp32`: the header says which and why, a bad value is exit code 2 naming the
/// flag, and a resume in the other dtype is logged.</summary>
public sealed class DtypeOptionTests : IDisposable
{
    readonly TempDir run = new();

    public void Dispose() => run.Dispose();

    Task<ChildProcess.Result> Train(params string[] extra) =>
        CliRunner.RunAsync(["train", "pretrain", "--preset", "tiny", "--run-dir", run.Path, "--max-steps", "1", "--batch-size", "2",
            "--max-seq-len", "16", "--threads", "1", .. extra]);

    [Theory]
    [InlineData("bf16", "bf16 mixed precision (fp32 master weights, AdamW state and checkpoints)")]
    [InlineData("fp32", "dtype    : fp32; ")]
    public async Task The_header_names_the_dtype_that_runs_and_why(string dtype, string expected)
    {
        var r = await Train("--dtype", dtype);
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var line = Assert.Single(r.Out.Split('\n'), l => l.StartsWith("  dtype", StringComparison.Ordinal));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Contains("auto", line, StringComparison.Ordinal);                    // the why: what auto picks here
    }

    [Fact]
    public async Task Auto_keeps_fp32_for_the_tiny_preset_and_says_why()
    {
        var r = await Train();
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var line = Assert.Single(r.Out.Split('\n'), l => l.StartsWith("  dtype", StringComparison.Ordinal));
        Assert.StartsWith("  dtype    : fp32; auto: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_dtype_is_exit_code_2_naming_the_flag()
    {
        var r = await Train("--dtype", "fp16");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--dtype fp16: expected auto, bf16 or fp32", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_resume_in_another_dtype_is_logged_and_the_new_dtype_remembered()
    {
        var dir = run.File("checkpoints");
        Assert.Null(DtypeOption.Previous(dir));
        Assert.Null(DtypeOption.Started(dir, "bf16", previous: null, resumed: false));
        Assert.Equal("bf16", DtypeOption.Previous(dir));
        Assert.Null(DtypeOption.Started(dir, "bf16", previous: "bf16", resumed: true));
        var note = DtypeOption.Started(dir, "fp32", previous: "bf16", resumed: true);
        Assert.StartsWith("note: resuming in fp32; the steps so far ran in bf16", note, StringComparison.Ordinal);
        Assert.Equal("fp32", DtypeOption.Previous(dir));
    }
}
