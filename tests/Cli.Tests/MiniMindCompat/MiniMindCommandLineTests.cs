using System.Text.Json;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using Xunit;

namespace MiniMind.Cli.Tests.MiniMindCompat;

/// <summary>A MiniMind user's command lines (trainer/train_pretrain.py and train_full_sft.py with their own flags, at
/// tiny sizes) run unchanged as a child <c>minimind</c> process, with <c>python trainer/train_x.py</c> replaced by
/// <c>minimind train x</c>: pretrain writes &lt;save_dir&gt;/pretrain_64.pth, full_sft starts from it (--from_weight
/// pretrain) and writes full_sft_64.pth. The data are the first lines of the sample files in dataset/, so that the runs
/// take a few steps.</summary>
public sealed class MiniMindCommandLineTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    static string Head(string dir, string file, int lines)
    {
        var path = Path.Combine(dir, file);
        File.WriteAllLines(path, File.ReadLines(Path.Combine(RepoPaths.Root, "dataset", file)).Take(lines));
        return path;
    }

    static ChildProcess.Result Minimind(params string[] args) =>
        ChildProcess.Run(Path.Combine(RepoPaths.CliBin, "minimind"), args, Timeout, workingDirectory: RepoPaths.Root);

    [Fact]
    public void Pretrain_then_full_sft_command_lines_of_minimind_run_unchanged()
    {
        using var tmp = new TempDir();
        var outDir = Path.Combine(tmp.Path, "out");
        var pretrainData = Head(tmp.Path, "pretrain.jsonl", 96);
        var sftData = Head(tmp.Path, "sft.jsonl", 48);

        // python trainer/train_pretrain.py --save_dir … (every flag spelled as in MiniMind's argparse)
        var pretrain = Minimind("train", "pretrain", "--save_dir", outDir, "--save_weight", "pretrain", "--epochs", "1", "--batch_size", "16",
            "--learning_rate", "5e-4", "--device", "cpu", "--dtype", "bfloat16", "--num_workers", "1", "--accumulation_steps", "2", "--grad_clip", "1.0",
            "--log_interval", "1", "--save_interval", "2", "--hidden_size", "64", "--num_hidden_layers", "2", "--max_seq_len", "64", "--use_moe", "0",
            "--data_path", pretrainData, "--from_weight", "none", "--from_resume", "0", "--use_wandb", "--wandb_project", "MiniMind-Pretrain", "--use_compile", "0");
        Assert.True(pretrain.ExitCode == 0, $"exit {pretrain.ExitCode}\n{pretrain.Out}\n{pretrain.Error}");
        Assert.Contains("hidden 64, layers 2, heads 8/2", pretrain.Out, StringComparison.Ordinal);   // MiniMind's config defaults + its flags
        Assert.Contains("batch 16 × accumulation 2, seq 64", pretrain.Out, StringComparison.Ordinal);
        Assert.Contains("note: --use_wandb", pretrain.Error, StringComparison.Ordinal);
        using (var summary = JsonDocument.Parse(pretrain.LastLine))
        {
            Assert.Equal("completed", summary.RootElement.GetProperty("outcome").GetString());
            Assert.Equal(3, summary.RootElement.GetProperty("steps").GetInt64());   // 96 samples / (16 × 2)
        }
        var pretrainPth = Path.Combine(outDir, "pretrain_64.pth");
        Assert.True(File.Exists(pretrainPth));
        var config = new MiniMindConfig { HiddenSize = 64, NumHiddenLayers = 2 };
        using (var m = ModelLoader.Load(config, pretrainPth)) Assert.Equal(2, m.Model.Layers.Count());

        // python trainer/train_full_sft.py …
        var sft = Minimind("train", "full_sft", "--save_dir", outDir, "--save_weight", "full_sft", "--epochs", "1", "--batch_size", "16",
            "--learning_rate", "1e-5", "--device", "cpu", "--dtype", "bfloat16", "--num_workers", "1", "--accumulation_steps", "1", "--grad_clip", "1.0",
            "--log_interval", "1", "--save_interval", "2", "--hidden_size", "64", "--num_hidden_layers", "2", "--max_seq_len", "64", "--use_moe", "0",
            "--data_path", sftData, "--from_weight", "pretrain", "--from_resume", "0");
        Assert.True(sft.ExitCode == 0, $"exit {sft.ExitCode}\n{sft.Out}\n{sft.Error}");
        Assert.Contains($"(from {Path.Combine(outDir, "pretrain_64.pth")})", sft.Out, StringComparison.Ordinal);
        using (var summary = JsonDocument.Parse(sft.LastLine))
        {
            Assert.Equal("completed", summary.RootElement.GetProperty("outcome").GetString());
            Assert.Equal(3, summary.RootElement.GetProperty("steps").GetInt64());   // 48 samples / 16
        }
        Assert.True(File.Exists(Path.Combine(outDir, "full_sft_64.pth")));
    }
}
