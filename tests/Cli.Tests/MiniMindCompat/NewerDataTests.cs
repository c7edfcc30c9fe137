using Xunit;

namespace MiniMind.Cli.Tests.MiniMindCompat;

/// <summary>A newer MiniMind SFT file (tool calls, reasoning_content, system turns after the first) fails naming file,
/// line and field, in <c>data prepare</c> (exit 3) and in <c>train sft</c>, never trained on mis-rendered.</summary>
public sealed class NewerDataTests
{
    const string Good = """{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}""";

    [Theory]
    [InlineData("""{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello.","reasoning_content":"greet back"}]}""", "conversations[1].reasoning_content")]
    [InlineData("""{"conversations":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"","tool_calls":[{"name":"calc","arguments":{"x":"2+2"}}]},{"role":"tool","content":"4"},{"role":"assistant","content":"4"}]}""", "conversations[1].tool_calls")]
    [InlineData("""{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."},{"role":"system","content":"Be brief."},{"role":"user","content":"Bye"},{"role":"assistant","content":"Bye."}]}""", "conversations[2].role")]
    public async Task Prepare_fails_with_exit_3_naming_file_line_and_field(string record, string field)
    {
        using var tmp = new TempDir();
        var src = tmp.Write("newer.jsonl", $"{Good}\n{Good}\n{record}\n");
        var (code, _, stderr) = await CliRunner.RunAsync("data", "prepare", "--stage", "sft", "--data", src, "--tokenizer", RepoPaths.Tokenizer, "--out", tmp.File("out"));
        Assert.Equal((int)ExitCode.InputError, code);
        Assert.StartsWith($"error: {src}:3: {field}:", stderr.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_sft_fails_naming_file_line_and_field()
    {
        using var tmp = new TempDir();
        File.Copy(RepoPaths.ModelFixture("dense_tiny", "dense_tiny.pth"), tmp.File("pretrain_64.pth"));
        var src = tmp.Write("newer.jsonl", $"{Good}\n" + """{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello.","reasoning_content":"greet"}]}""" + "\n");
        var r = await CliRunner.RunAsync("train", "sft", "--run-dir", tmp.Path, "--data", src, "--max-steps", "1", "--threads", "1", "--control", "off");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"{src}:2: conversations[1].reasoning_content", r.Out + r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(tmp.File("full_sft_64.pth")));
    }
}
