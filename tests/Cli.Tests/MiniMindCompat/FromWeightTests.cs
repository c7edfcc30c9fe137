using MiniMind.Actors;
using MiniMind.Actors.Stages;
using MiniMind.Cli.Commands;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using Xunit;

namespace MiniMind.Cli.Tests.MiniMindCompat;

/// <summary>--from_weight / --from-weight: a weight name resolves in the run dir as MiniMind's init_model does in its
/// save_dir; a file may be MiniMind's fp32 or fp16 .pth, a resume dict or a .safetensors (the fixtures' files), checked
/// against the config before the run; none is a random init.</summary>
public sealed class FromWeightTests
{
    static string Locate(string relative) => Path.Combine(RepoPaths.Root, relative);

    static TrainingSettings Resolve(string stage, params string[] args) =>
        TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest(stage, args), Locate).Settings;

    [Fact]
    public void A_name_resolves_to_name_hidden_moe_pth_in_the_run_dir()
    {
        using var dir = new TempDir();
        File.Copy(RepoPaths.ModelFixture("dense_tiny", "dense_tiny.pth"), dir.File("full_sft_64.pth"));
        File.Copy(RepoPaths.ModelFixture("moe_tiny", "moe_tiny.pth"), dir.File("pretrain_64_moe.pth"));
        File.Copy(RepoPaths.ModelFixture("dense_tiny", "dense_tiny.pth"), dir.File("pretrain_64.pth"));
        Assert.Equal(dir.File("full_sft_64.pth"), Resolve("sft", "--run-dir", dir.Path, "--from_weight", "full_sft").InitFrom);
        // moe_tiny: the tiny preset with MiniMind's MoE defaults (4 routed experts, top-2, 1 shared)
        Assert.Equal(dir.File("pretrain_64_moe.pth"), Resolve("sft", "--run-dir", dir.Path, "--config", "tiny", "--use_moe", "1", "--from-weight", "pretrain").InitFrom);
        // the default stays the previous stage's output; none is a random init
        Assert.Equal(Path.Combine(dir.Path, "pretrain_64.pth"), Path.GetFullPath(TrainRequestResolver.Resolve(new TrainRequest { Stage = "sft", RunDir = dir.Path }, Locate).Settings.InitFrom!));
        Assert.Null(Resolve("sft", "--run-dir", dir.Path, "--from_weight", "none").InitFrom);
    }

    [Theory]
    [InlineData("dense_tiny", "dense_tiny.pth")]                  // torch.save fp32, tied weight in one storage
    [InlineData("dense_tiny", "dense_tiny.safetensors")]          // lm_head omitted
    [InlineData("minimind_resume_tiny", "pretrain_64.pth")]       // MiniMind's trainer layout: {k: v.half()}, two copies
    [InlineData("minimind_resume_tiny", "pretrain_64_resume.pth")] // a resume dict: its "model"
    public void A_file_is_checked_against_the_config_and_used(string set, string file)
    {
        using var dir = new TempDir();
        var path = RepoPaths.ModelFixture(set, file);
        Assert.Equal(path, Resolve("pretrain", "--run-dir", dir.Path, "--config", "tiny", "--from_weight", path).InitFrom);
    }

    [Fact]
    public async Task A_file_that_does_not_fit_the_config_fails_before_the_run_naming_it_exit_3()
    {
        using var dir = new TempDir();
        var moe = RepoPaths.ModelFixture("moe_tiny", "moe_tiny.pth");
        var r = await CliRunner.RunAsync("train", "sft", "--run-dir", dir.Path, "--config", "tiny", "--from_weight", moe, "--control", "off");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains(moe, r.Error, StringComparison.Ordinal);
        Assert.Contains("mlp.experts.0", r.Error, StringComparison.Ordinal);   // the loader's list of unexpected keys
        Assert.False(File.Exists(Path.Combine(dir.Path, "journal.db")));

        var missing = await CliRunner.RunAsync("train", "sft", "--run-dir", dir.Path, "--from_weight", "rlhf", "--control", "off");
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains(Path.Combine(dir.Path, "rlhf_64.pth"), missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Training_starts_from_minimind_fp16_weights()
    {
        // lr 1e-12 for one step: the fp16 output rounds back to the fp16 input, so it equals the file bit for bit
        using var dir = new TempDir();
        var source = RepoPaths.ModelFixture("minimind_resume_tiny", "pretrain_64.pth");
        var data = dir.Write("sft.jsonl", string.Join("\n", File.ReadLines(RepoPaths.Dataset("sft.jsonl")).Take(8)) + "\n");
        var r = await CliRunner.RunAsync("train", "sft", "--run-dir", dir.Path, "--config", "tiny", "--from_weight", source, "--data", data,
            "--batch-size", "4", "--max-seq-len", "32", "--max-steps", "1", "--learning_rate", "1e-12", "--threads", "1", "--control", "off");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var expected = StateDictFile.Read(source);
        var actual = StateDictFile.Read(dir.File("full_sft_64.pth"));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (k, t) in expected)
            Assert.True(t.allclose(actual[k], rtol: 0, atol: 0), k);
    }
}
