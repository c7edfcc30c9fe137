using MiniMind.Model.Data.Shards;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public sealed class DataCommandsTests
{
    [Fact]
    public async Task Prepare_should_write_shards_and_report_the_sample_count()
    {
        using var tmp = new TempDir();
        var src = tmp.Write("sft.jsonl", string.Join('\n', File.ReadLines(RepoPaths.Dataset("sft.jsonl")).Take(50)) + "\n");
        var (code, stdout, stderr) = await CliRunner.RunAsync("data", "prepare", "--stage", "sft", "--data", src, "--tokenizer", RepoPaths.Tokenizer,
            "--out", tmp.File("out"), "--max-length", "128", "--threads", "2");
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        var last = stdout.TrimEnd().Split('\n')[^1];
        Assert.Matches(@"^prepared 50 samples \([\d.]+ MB in [\d.]+ s, [\d.]+ MB/s\) -> .*out$", last);
        Assert.Contains("100%", stdout, StringComparison.Ordinal); // plain progress line (output is not a terminal)
        using var ds = ShardDataset.Open(tmp.File("out"));
        Assert.Equal((50L, 127), (ds.Count, ds.SeqLen));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("3")]
    [InlineData("7")]
    public async Task Prepare_should_fail_naming_file_and_line(string threads)
    {
        using var tmp = new TempDir();
        var src = tmp.Write("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"fine\"}\n{\"txt\": \"oops\"}\n");
        var (code, _, stderr) = await CliRunner.RunAsync("data", "prepare", "--stage", "pretrain", "--data", src, "--tokenizer", RepoPaths.Tokenizer, "--out", tmp.File("out"),
            "--threads", threads);
        Assert.Equal((int)ExitCode.InputError, code);
        Assert.Equal($"error: {src}:3: missing field \"text\"", stderr.Trim());
        Assert.False(Directory.Exists(tmp.File("out")));
    }

    [Fact]
    public async Task Prepare_with_skip_bad_lines_should_report_where()
    {
        using var tmp = new TempDir();
        var src = tmp.Write("bad.jsonl", "{\"text\": \"a\"}\nnot json\n{\"text\": \"b\"}\n{\"text\": 1}\n");
        var (code, stdout, _) = await CliRunner.RunAsync("data", "prepare", "--stage", "pretrain", "--data", src, "--tokenizer", RepoPaths.Tokenizer,
            "--out", tmp.File("out"), "--skip-bad-lines");
        Assert.Equal(0, code);
        Assert.Contains("skipped 2 bad lines (2, 4)", stdout, StringComparison.Ordinal);
        Assert.Contains($"  {src}:2: invalid JSON", stdout, StringComparison.Ordinal);
        Assert.Contains($"  {src}:4: \"text\" must be a string", stdout, StringComparison.Ordinal);
        Assert.Contains("prepared 2 samples", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_should_reject_an_unknown_stage_and_a_missing_file()
    {
        using var tmp = new TempDir();
        var (code, _, stderr) = await CliRunner.RunAsync("data", "prepare", "--stage", "rlhf", "--data", "x.jsonl", "--tokenizer", RepoPaths.Tokenizer, "--out", tmp.File("o"));
        Assert.NotEqual(0, code);
        Assert.Contains("rlhf", stderr, StringComparison.Ordinal);
        (code, _, stderr) = await CliRunner.RunAsync("data", "prepare", "--stage", "sft", "--data", tmp.File("missing.jsonl"), "--tokenizer", RepoPaths.Tokenizer, "--out", tmp.File("o"));
        Assert.Equal((int)ExitCode.InputError, code);
        Assert.Contains("missing.jsonl", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sample_should_write_the_five_files()
    {
        using var tmp = new TempDir();
        var (code, stdout, _) = await CliRunner.RunAsync("data", "sample", "--out", tmp.Path, "--skip-tokenizer");
        Assert.Equal(0, code);
        Assert.Equal(5, Directory.GetFiles(tmp.Path, "*.jsonl").Length);
        Assert.False(Directory.Exists(tmp.File("tokenizer")));
        Assert.Equal(File.ReadAllBytes(RepoPaths.Dataset("dpo.jsonl")), File.ReadAllBytes(tmp.File("dpo.jsonl")));
        Assert.Contains("wrote ", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("data", "prepare")]
    [InlineData("data", "sample")]
    [InlineData("tokenizer", "encode")]
    [InlineData("tokenizer", "decode")]
    [InlineData("train", "tokenizer")]
    public async Task Help_should_show_an_example(string verb, string sub)
    {
        var (code, stdout, _) = await CliRunner.RunAsync(verb, sub, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"Example: minimind {verb} {sub}", stdout, StringComparison.Ordinal);
    }
}
