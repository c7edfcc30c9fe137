using MiniMind.Model;
using MiniMind.Model.IO;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary><c>--dtype fp32|bf16|int8</c> of generate, chat, eval and serve: the packed paths run and say so, and a bad
/// value is exit 2 naming the flag.</summary>
public class InferenceDtypeTests
{
    static string Ids(string name)
    {
        using var t = Npy.Read(Path.Combine(RepoPaths.ModelFixture("dense_tiny"), name + ".npy"));
        return string.Join(",", t.data<long>().ToArray());
    }

    [Theory]
    [InlineData("fp32", "fp32 weights and KV cache; decode on libtorch")]
    [InlineData("bf16", "bf16 weights, ")]
    [InlineData("int8", "int8 weights (per-output-channel float32 scales), ")]
    public async Task Generate_keeps_the_fixture_tokens_and_the_header_names_the_dtype_and_path(string dtype, string path)
    {
        var dir = RepoPaths.ModelFixture("dense_tiny");
        var r = await CliRunner.RunAsync("generate", "--config", Path.Combine(dir, "config.json"), "--checkpoint", Path.Combine(dir, "dense_tiny.pth"),
            "--prompt-ids", Ids("gen_prompt"), "--max-new-tokens", "8", "--greedy", "--ignore-eos", "--threads", "1", "--dtype", dtype);
        Assert.True(r.ExitCode == 0, r.Error);
        // The fixture prompt keeps every top-1/top-2 logit gap ≥ 0.02: bf16 and int8 (measured) choose fp32's tokens there.
        Assert.Equal("[" + Ids("gen_tokens_cache") + "]", r.LastLine);
        Assert.Contains($"dtype: {dtype}: {path}", r.Error);
        if (dtype != "fp32") Assert.Contains($"on our {Gemv.Best} GEMV kernels, 1 thread", r.Error);
    }

    [Theory]
    [InlineData("generate")]
    [InlineData("chat")]
    [InlineData("eval")]
    [InlineData("serve")]
    public async Task A_bad_dtype_is_exit_2_naming_the_flag(string verb)
    {
        string[] args = verb == "generate"
            ? ["generate", "--checkpoint", "x.pth", "--prompt-ids", "1", "--dtype", "fp16"]
            : [verb, "--run-dir", "/nonexistent", "--dtype", "fp16"];
        var r = await CliRunner.RunAsync(args);
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("--dtype 'fp16': expected one of fp32|bf16|int8", r.Error);
    }

    [Fact]
    public async Task Chat_in_int8_answers_as_the_packed_model_does_and_says_so()
    {
        var @out = new StringWriter();
        var err = new StringWriter();
        var code = await MiniMindCommand.RunAsync(["chat", .. TestRunDir.Args(0), "--max-new-tokens", "10", "--greedy", "--dtype", "int8"],
            new StringReader("The sky is"), @out, err, TestContext.Current.CancellationToken);
        Assert.True(code == 0, err.ToString());
        Assert.Contains("dtype: int8: int8 weights (per-output-channel float32 scales)", err.ToString());

        var chat = TestRunDir.Load(0);
        using var _ = chat.Model;
        InferenceSetup.Apply(chat.Model, InferenceDType.Int8);
        var prompt = chat.Tokenizer.Encode("<|im_start|>The sky is").Select(i => (long)i).ToArray();
        var ids = Generator.Generate(chat.Model, prompt, new GenerationOptions { MaxNewTokens = 10, Greedy = true });
        Assert.Equal(chat.Tokenizer.Decode(ids.Select(i => (int)i).ToArray(), skipSpecialTokens: true), @out.ToString().Split("\n\n")[0]);
    }

    [Fact]
    public async Task Eval_prints_the_dtype_line_in_its_header()
    {
        var prompts = Path.Combine(TempDir.Create(), "prompts.txt");
        await File.WriteAllTextAsync(prompts, "Hello\n", TestContext.Current.CancellationToken);
        var r = await CliRunner.RunAsync(["eval", .. TestRunDir.Args(1), "--prompts", prompts, "--max-new-tokens", "4", "--greedy", "--dtype", "bf16"]);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("dtype: bf16: bf16 weights, ", r.Out);
    }
}
