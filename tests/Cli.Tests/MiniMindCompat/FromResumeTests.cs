using System.Text.Json;
using MiniMind.Model.Checkpoints;
using Xunit;

namespace MiniMind.Cli.Tests.MiniMindCompat;

/// <summary>--from_resume: a MiniMind *_resume.pth continues a run from its weights, AdamW state and step (the numbers
/// against PyTorch: Model.Tests MiniMindResumeTests); 1 finds the file where MiniMind keeps it; a different global batch
/// rescales the step and says so.</summary>
public sealed class FromResumeTests
{
    static readonly string Resume = RepoPaths.ModelFixture("minimind_resume_tiny", "pretrain_64_resume.pth");

    static string Data(TempDir dir) =>
        dir.Write("pretrain.jsonl", string.Join("\n", File.ReadLines(RepoPaths.Dataset("pretrain.jsonl")).Take(40)) + "\n");

    [Fact]
    public async Task A_run_ending_at_the_resumed_step_exports_the_resume_files_weights()
    {
        // MiniMind's step 3 (batch 2, one rank) is our step 3 at batch 2 × accumulation 1: with --max-steps 3 nothing is
        // left to train, so the output is the file's model, written in MiniMind's fp16 layout: equal to its fp16 weights file
        using var dir = new TempDir();
        var r = await CliRunner.RunAsync("train", "pretrain", "--run-dir", dir.File("out"), "--config", "tiny", "--from_resume", Resume, "--data", Data(dir),
            "--batch_size", "2", "--accumulation_steps", "1", "--max_seq_len", "16", "--max-steps", "3", "--threads", "1", "--control", "off");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains($"resume   : {Resume} (MiniMind epoch 1, step 3, world size 1", r.Out, StringComparison.Ordinal);
        Assert.Contains("→ step 3", r.Out, StringComparison.Ordinal);
        var expected = StateDictFile.Read(RepoPaths.ModelFixture("minimind_resume_tiny", "pretrain_64.pth"));
        var actual = StateDictFile.Read(Path.Combine(dir.File("out"), "pretrain_64.pth"));
        foreach (var (k, t) in expected) Assert.True(t.allclose(actual[k], rtol: 0, atol: 0), k);
    }

    [Fact]
    public async Task Continuing_trains_the_remaining_steps_from_the_resumed_step()
    {
        using var dir = new TempDir();
        var r = await CliRunner.RunAsync("train", "pretrain", "--run-dir", dir.File("out"), "--config", "tiny", "--from_resume", Resume, "--data", Data(dir),
            "--batch_size", "2", "--max_seq_len", "16", "--accumulation_steps", "1", "--max-steps", "5", "--log_interval", "1", "--threads", "1", "--control", "off");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("at step 3/5", r.Out, StringComparison.Ordinal);
        Assert.Contains("step 4/5", r.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("step 1/5", r.Out, StringComparison.Ordinal);
        using var summary = JsonDocument.Parse(r.Out.TrimEnd().Split('\n')[^1]);
        Assert.Equal(5, summary.RootElement.GetProperty("steps").GetInt64());
    }

    [Fact]
    public async Task From_resume_1_looks_where_minimind_keeps_the_file_and_rescales_for_another_global_batch()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("checkpoints"));
        File.Copy(Resume, Path.Combine(dir.File("checkpoints"), "pretrain_64_resume.pth"));   // MiniMind: ../checkpoints beside ../out
        var r = await CliRunner.RunAsync("train", "pretrain", "--save_dir", dir.File("out"), "--config", "tiny", "--from_resume", "1", "--data", Data(dir),
            "--batch_size", "1", "--accumulation_steps", "2", "--max_seq_len", "16", "--max-steps", "1", "--threads", "1", "--control", "off");
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains(Path.Combine(dir.File("checkpoints"), "pretrain_64_resume.pth"), r.Out, StringComparison.Ordinal);
        // 3 iterations × 1 rank × batch 1 = 3 samples → 1 step of batch 1 × accumulation 2, one sample redone
        Assert.Contains("rescaled : MiniMind's step 3 × world size 1 × batch 1 = 3 samples of epoch 1 → step 1 of batch 1 × accumulation 2 here (1 samples of an unfinished accumulation are redone)", r.Out, StringComparison.Ordinal);

        // no file: MiniMind starts without it, and says so here
        using var empty = new TempDir();
        var none = await CliRunner.RunAsync("train", "pretrain", "--save_dir", empty.File("out"), "--config", "tiny", "--from_resume", "1", "--data", Data(empty),
            "--batch_size", "4", "--max_seq_len", "16", "--max-steps", "1", "--threads", "1", "--control", "off");
        Assert.True(none.ExitCode == 0, none.Out + none.Error);
        Assert.Contains("no MiniMind resume file", none.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_resume_file_of_another_config_fails_naming_it()
    {
        using var dir = new TempDir();
        var r = await CliRunner.RunAsync("train", "pretrain", "--run-dir", dir.Path, "--hidden_size", "128", "--num_hidden_layers", "2", "--from_resume", Resume, "--control", "off");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains(Resume, r.Error, StringComparison.Ordinal);
    }
}
