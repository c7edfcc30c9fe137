using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Cli.Tests.Commands;

public class ModelExportCommandTests
{
    static Tensor Logits(MiniMindForCausalLM model)
    {
        using var noGrad = no_grad();
        return model.call(tensor(new long[] { 1, 320, 1450, 38, 4000, 2, 77 }, [1, 7])).logits;
    }

    [Fact]
    public async Task Export_writes_the_folder_and_the_weights_give_the_run_dirs_model()
    {
        var outDir = Path.Combine(TempDir.Create(), "export");
        var r = await CliRunner.RunAsync("model", "export", "--run-dir", TestRunDir.Path, "--stage", "sft", "--out", outDir, "--tokenizer", TestRunDir.Tokenizer);
        Assert.True(r.ExitCode == 0, r.Error);
        foreach (var f in new[] { "full_sft_64.pth", "model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        var config = MiniMindConfig.Load(Path.Combine(outDir, "config.json"));
        Assert.Equal(TestRunDir.Config with { IntermediateSize = null }, config with { IntermediateSize = null });
        using var scope = NewDisposeScope();
        using var original = ModelLoader.Load(TestRunDir.Config, Path.Combine(TestRunDir.Path, "full_sft_64.pth"));
        using var exported = ModelLoader.Load(config, Path.Combine(outDir, "model.safetensors"));
        Assert.True(Logits(original).eq(Logits(exported)).all().item<bool>());

        // The exported folder is itself a run dir: chat reads its config.json.
        var chat = await MiniMindCommand.RunAsync(["chat", "--run-dir", outDir, "--tokenizer", TestRunDir.Tokenizer, "--threads", "1", "--max-new-tokens", "2"],
            new StringReader("hi"), new StringWriter(), new StringWriter(), TestContext.Current.CancellationToken);
        Assert.Equal(0, chat);
    }

    [Fact]
    public async Task A_lora_is_copied_alongside_and_merge_lora_folds_it_into_the_weights()
    {
        var alongside = Path.Combine(TempDir.Create(), "a");
        var merged = Path.Combine(TempDir.Create(), "m");
        var a = await CliRunner.RunAsync("model", "export", "--run-dir", TestRunDir.Path, "--out", alongside, "--lora", "lora_medical", "--tokenizer", TestRunDir.Tokenizer);
        var m = await CliRunner.RunAsync("model", "export", "--run-dir", TestRunDir.Path, "--out", merged, "--lora", "lora_medical", "--merge-lora", "--tokenizer", TestRunDir.Tokenizer);
        Assert.True(a.ExitCode == 0, a.Error);
        Assert.True(m.ExitCode == 0, m.Error);
        Assert.True(File.Exists(Path.Combine(alongside, "lora", "lora_medical_64.pth")));

        using var scope = NewDisposeScope();
        var withLora = TestRunDir.Load(1, "lora_medical").Model;
        using var plainExport = ModelLoader.Load(TestRunDir.Config, Path.Combine(alongside, "full_sft_64.pth"));
        using var mergedExport = ModelLoader.Load(TestRunDir.Config, Path.Combine(merged, "full_sft_64.pth"));
        var expected = Logits(withLora);
        // fp16 storage of the merged weights costs a little precision; LoRA itself moves the logits far more.
        Assert.True(expected.sub(Logits(mergedExport)).abs().max().item<float>() < 2e-2f);
        Assert.True(expected.sub(Logits(plainExport)).abs().max().item<float>() > 1e-1f);
        withLora.Dispose();
    }

    [Fact]
    public async Task Unknown_stage_and_missing_weights_are_reported()
    {
        var bad = await CliRunner.RunAsync("model", "export", "--run-dir", TestRunDir.Path, "--stage", "ppo", "--out", TempDir.Create());
        Assert.Equal((int)ExitCode.ArgumentError, bad.ExitCode);
        Assert.Contains("pretrain|sft|rlhf|dpo|reason|distill", bad.Error);
        var missing = await CliRunner.RunAsync("model", "export", "--run-dir", TestRunDir.Path, "--stage", "dpo", "--out", TempDir.Create());
        Assert.Equal((int)ExitCode.InputError, missing.ExitCode);
        Assert.Contains("rlhf_<hidden>[_moe].pth", missing.Error);
    }
}
