using MiniMind.Model.IO;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

public class GenerateCommandTests
{
    static string Ids(string set, string name)
    {
        using var t = Npy.Read(Path.Combine(RepoPaths.ModelFixture(set), name + ".npy"));
        return string.Join(",", t.data<long>().ToArray());
    }

    [Theory]
    [InlineData("dense_tiny", false)]
    [InlineData("dense_tiny", true)]
    [InlineData("moe_tiny", false)]
    public async Task Greedy_generation_prints_the_pytorch_reference_tokens_as_json(string set, bool noCache)
    {
        var dir = RepoPaths.ModelFixture(set);
        var args = new List<string>
        {
            "generate", "--config", Path.Combine(dir, "config.json"), "--checkpoint", Path.Combine(dir, set + ".pth"),
            "--prompt-ids", Ids(set, "gen_prompt"), "--max-new-tokens", "8", "--greedy", "--ignore-eos",
        };
        if (noCache) args.Add("--no-cache");
        var r = await CliRunner.RunAsync([.. args]);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("[" + Ids(set, "gen_tokens_cache") + "]", r.LastLine);
    }

    [Fact]
    public async Task Seeded_sampling_is_reproducible()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        string[] args = ["generate", "--config", "tiny", "--checkpoint", Path.Combine(dir, "dense_tiny.safetensors"),
            "--prompt-ids", "1,2,3", "--max-new-tokens", "12", "--temperature", "1.5", "--top-p", "0.95", "--seed", "7", "--ignore-eos"];
        var a = await CliRunner.RunAsync(args);
        var b = await CliRunner.RunAsync(args);
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(a.LastLine, b.LastLine);
        Assert.Equal(12, a.LastLine.Trim('[', ']').Split(',').Length);
    }

    [Theory]
    [InlineData("1,x,3", "'x' (item 2) is not an integer")]
    [InlineData("1,99999", "token id 99999 (item 2) is outside the vocabulary [0, 6400)")]
    public async Task Bad_prompt_ids_are_an_argument_error_naming_the_item(string ids, string message)
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var r = await CliRunner.RunAsync("generate", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--prompt-ids", ids);
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("--prompt-ids", r.Error);
        Assert.Contains(message, r.Error);
    }

    [Fact]
    public async Task A_checkpoint_that_does_not_fit_the_config_is_an_input_error_naming_keys_and_shapes()
    {
        var moe = RepoPaths.ModelFixture("moe_tiny");
        var r = await CliRunner.RunAsync("generate", "--config", "tiny", "--checkpoint", Path.Combine(moe, "moe_tiny.pth"), "--prompt-ids", "1,2");
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains("moe_tiny.pth", r.Error);
        Assert.Contains("model.layers.0.mlp.gate.weight", r.Error);
    }

    [Fact]
    public async Task A_missing_checkpoint_is_an_input_error()
    {
        var r = await CliRunner.RunAsync("generate", "--checkpoint", "/nonexistent/model.pth", "--prompt-ids", "1");
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains("/nonexistent/model.pth", r.Error);
    }

    [Fact]
    public async Task Text_prompts_are_encoded_and_the_generated_text_is_printed_before_the_ids()
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var tokenizerPath = Path.Combine(RepoPaths.Shared, "fixtures", "tokenizer", "minimind", "tokenizer.json");
        var r = await CliRunner.RunAsync("generate", "--config", "tiny", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"),
            "--prompt", "Hello, how are you?", "--chat", "--tokenizer", tokenizerPath, "--max-new-tokens", "6", "--greedy", "--ignore-eos");
        Assert.True(r.ExitCode == 0, r.Error);
        var lines = r.Out.TrimEnd().Split('\n');
        var ids = lines[^1].Trim('[', ']').Split(',').Select(int.Parse).ToArray();
        Assert.Equal(6, ids.Length);
        var tokenizer = MiniMind.Model.Tokenizer.BpeTokenizer.FromFile(tokenizerPath);
        Assert.Equal(tokenizer.Decode(ids, skipSpecialTokens: true), lines[^2]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Exactly_one_of_prompt_ids_and_prompt_is_required(bool both)
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        string[] args = both
            ? ["generate", "--checkpoint", Path.Combine(dir, "dense_tiny.pth"), "--prompt-ids", "1", "--prompt", "hi"]
            : ["generate", "--checkpoint", Path.Combine(dir, "dense_tiny.pth")];
        var r = await CliRunner.RunAsync(args);
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("exactly one of --prompt-ids and --prompt", r.Error);
    }
}
