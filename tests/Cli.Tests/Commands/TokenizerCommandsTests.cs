using System.Text.Json;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public sealed class TokenizerCommandsTests
{
    [Fact]
    public async Task Encode_then_decode_should_round_trip_in_order()
    {
        using var tmp = new TempDir();
        // 5000 lines: more than one parallel batch; one blank line stays blank.
        var texts = File.ReadLines(RepoPaths.Dataset("pretrain.jsonl")).Take(5000).ToList();
        texts[10] = "";
        var input = tmp.Write("in.jsonl", string.Join('\n', texts) + "\n");
        var (code, stdout, stderr) = await CliRunner.RunAsync("tokenizer", "encode", "--tokenizer", RepoPaths.Tokenizer, "--input", input, "--output", tmp.File("ids.jsonl"));
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.StartsWith("encoded 5000 lines", stdout, StringComparison.Ordinal);
        var tok = BpeTokenizer.FromFile(RepoPaths.Tokenizer);
        var ids = File.ReadAllLines(tmp.File("ids.jsonl"));
        Assert.Equal(5000, ids.Length);
        Assert.Equal("", ids[10]);
        for (var i = 0; i < ids.Length; i += 497)
        {
            if (i == 10) continue;
            var text = JsonDocument.Parse(texts[i]).RootElement.GetProperty("text").GetString()!;
            Assert.Equal(tok.Encode(text), JsonDocument.Parse(ids[i]).RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        }

        (code, _, stderr) = await CliRunner.RunAsync("tokenizer", "decode", "--tokenizer", RepoPaths.Tokenizer, "--input", tmp.File("ids.jsonl"), "--output", tmp.File("text.jsonl"));
        Assert.Equal((0, ""), (code, stderr));
        var decoded = File.ReadAllLines(tmp.File("text.jsonl"));
        for (var i = 0; i < texts.Count; i++)
        {
            if (i == 10) continue;
            Assert.Equal(JsonDocument.Parse(texts[i]).RootElement.GetProperty("text").GetString(),
                JsonDocument.Parse(decoded[i]).RootElement.GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task Decode_should_skip_special_tokens_on_request()
    {
        using var tmp = new TempDir();
        var input = tmp.Write("ids.jsonl", "{\"ids\": [1, 42, 2]}\n");
        await CliRunner.RunAsync("tokenizer", "decode", "--tokenizer", RepoPaths.Tokenizer, "--input", input, "--output", tmp.File("a.jsonl"));
        await CliRunner.RunAsync("tokenizer", "decode", "--tokenizer", RepoPaths.Tokenizer, "--input", input, "--output", tmp.File("b.jsonl"), "--skip-special-tokens");
        var tok = BpeTokenizer.FromFile(RepoPaths.Tokenizer);
        string Text(string f) => JsonDocument.Parse(File.ReadAllText(tmp.File(f))).RootElement.GetProperty("text").GetString()!;
        Assert.Equal(tok.Decode([1, 42, 2]), Text("a.jsonl"));
        Assert.Equal(tok.Decode([42]), Text("b.jsonl"));
        Assert.StartsWith("<|im_start|>", Text("a.jsonl"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("encode", "{\"text\": \"a\"}\n{\"text\": [1]}\n", 2, "\"text\" must be a string")]
    [InlineData("encode", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"\n", 3, "invalid JSON")]
    [InlineData("decode", "{\"ids\": [1, 2]}\n{\"ids\": [1, 99999]}\n", 2, "ids[1] = 99999 is outside the vocabulary")]
    [InlineData("decode", "{\"ids\": [1, \"x\"]}\n", 1, "ids[1] is not an integer")]
    [InlineData("decode", "{\"text\": \"a\"}\n", 1, "missing field \"ids\"")]
    public async Task Bad_line_should_fail_naming_file_and_line(string verb, string content, int line, string why)
    {
        using var tmp = new TempDir();
        var input = tmp.Write("in.jsonl", content);
        var (code, _, stderr) = await CliRunner.RunAsync("tokenizer", verb, "--tokenizer", RepoPaths.Tokenizer, "--input", input, "--output", tmp.File("out.jsonl"));
        Assert.Equal((int)ExitCode.InputError, code);
        Assert.StartsWith($"error: {input}:{line}: {why}", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(tmp.File("out.jsonl")));
        Assert.False(File.Exists(tmp.File("out.jsonl.tmp")));
    }
}
