using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public sealed class TrainTokenizerCommandTests
{
    [Fact]
    public async Task Train_tokenizer_should_write_a_loadable_tokenizer()
    {
        using var tmp = new TempDir();
        var src = tmp.Write("p.jsonl", string.Join('\n', File.ReadLines(RepoPaths.Dataset("pretrain.jsonl")).Take(300)) + "\n");
        var (code, stdout, stderr) = await CliRunner.RunAsync("train", "tokenizer", "--data", src, "--vocab-size", "400", "--out", tmp.File("tok"));
        Assert.Equal("", stderr);
        Assert.Equal(0, code);
        Assert.Matches(@"trained 400 tokens \(141 merges\)", stdout);
        var tok = BpeTokenizer.FromFile(tmp.File("tok/tokenizer.json"));
        Assert.Equal(400, tok.VocabSize);
        Assert.Equal("Lily has 4 cookies.", tok.Decode(tok.Encode("Lily has 4 cookies.")));
        Assert.True(File.Exists(tmp.File("tok/tokenizer_config.json")));
    }

    [Fact]
    public async Task Train_tokenizer_should_name_the_bad_line()
    {
        using var tmp = new TempDir();
        var src = tmp.Write("p.jsonl", "{\"text\": \"a\"}\n{\"nope\": 1}\n");
        var (code, _, stderr) = await CliRunner.RunAsync("train", "tokenizer", "--data", src, "--vocab-size", "300", "--out", tmp.File("tok"));
        Assert.Equal((int)ExitCode.InputError, code);
        Assert.Contains($"{src}:2:", stderr, StringComparison.Ordinal);
    }
}
