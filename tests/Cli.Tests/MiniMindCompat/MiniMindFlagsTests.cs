using MiniMind.Actors.Stages;
using MiniMind.Cli.Commands;
using Xunit;

namespace MiniMind.Cli.Tests.MiniMindCompat;

/// <summary>MiniMind's snake_case trainer flags are aliases of ours: the same request, the same settings; the help names
/// them once, in one section.</summary>
public sealed class MiniMindFlagsTests
{
    static string Locate(string relative) => Path.Combine(RepoPaths.Root, relative);

    [Theory]
    [InlineData("pretrain")]
    [InlineData("sft")]
    [InlineData("dpo")]
    [InlineData("reason")]
    [InlineData("distill")]
    public void Snake_case_flags_resolve_to_the_settings_of_their_kebab_case_names(string stage)
    {
        var dir = TempDir.Create();
        var data = Path.Combine(RepoPaths.Root, "dataset", "sft.jsonl");
        string[] snake = ["--save_dir", dir, "--epochs", "3", "--batch_size", "5", "--learning_rate", "0.0002", "--accumulation_steps", "4",
            "--grad_clip", "0.5", "--max_seq_len", "48", "--data_path", data, "--save_interval", "7", "--log_interval", "3", "--device", "cpu",
            "--dtype", "float32", "--num_workers", "8", "--use_wandb", "--wandb_project", "p", "--use_compile", "0"];
        string[] kebab = ["--run-dir", dir, "--epochs", "3", "--batch-size", "5", "--learning-rate", "0.0002", "--accumulation-steps", "4",
            "--grad-clip", "0.5", "--max-seq-len", "48", "--data", data, "--save-interval", "7", "--log-interval", "3", "--device", "cpu", "--dtype", "fp32"];
        var a = TrainStageCommands.ParseRequest(stage, snake);
        var b = TrainStageCommands.ParseRequest(stage, kebab);
        Assert.Equal(b, a);
        Assert.Equal(0.5, a.GradClip);
        Assert.Equal(dir, a.RunDir);
    }

    [Fact]
    public void Model_flags_build_minimind_defaults_with_the_given_sizes()
    {
        var dir = TempDir.Create();
        var r = TrainStageCommands.ParseRequest("pretrain", ["--save_dir", dir, "--hidden_size", "64", "--num_hidden_layers", "3", "--use_moe", "1", "--save_weight", "mine"]);
        var s = TrainRequestResolver.Resolve(r, Locate).Settings;
        var c = s.Config;
        Assert.Equal((64, 3, true), (c.HiddenSize, c.NumHiddenLayers, c.UseMoe));
        Assert.Equal(new MiniMind.Model.MiniMindConfig().NumAttentionHeads, c.NumAttentionHeads);   // MiniMind's defaults below the flags
        Assert.Equal(new MiniMind.Model.MiniMindConfig().MaxPositionEmbeddings, c.MaxPositionEmbeddings);
        Assert.Equal("mine_64_moe.pth", s.OutputFileName);
        // with --config the flags override that config
        var t = TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir, "--config", "tiny", "--num_hidden_layers", "1"]), Locate).Settings.Config;
        Assert.Equal((64, 1, 4), (t.HiddenSize, t.NumHiddenLayers, t.NumAttentionHeads));
    }

    [Fact]
    public void The_new_fields_travel_in_the_json_ctl_sends()
    {
        var r = TrainStageCommands.ParseRequest("sft", ["--grad_clip", "0.5", "--save_weight", "x", "--hidden_size", "128", "--num_hidden_layers", "3",
            "--use_moe", "1", "--from_weight", "none", "--from_resume", "1"]);
        Assert.Equal((0.5, "x", 128, 3, true, "none", "1"), (r.GradClip, r.SaveWeight, r.HiddenSize, r.NumHiddenLayers, r.UseMoe, r.FromWeight, r.FromResume));
        Assert.Equal(r, TrainRequest.FromJson(r.ToJson()));
        Assert.Null(TrainStageCommands.ParseRequest("sft", ["--from_resume", "0"]).FromResume);
    }

    [Fact]
    public void Grad_clip_default_stays_and_the_flag_overrides_it()
    {
        var dir = TempDir.Create();
        Assert.Equal(1.0, TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir]), Locate).Settings.GradClip);
        Assert.Equal(0.25, TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir, "--grad_clip", "0.25"]), Locate).Settings.GradClip);
        Assert.Contains("--grad-clip", Assert.Throws<ArgumentException>(() => TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir, "--grad-clip", "0"]), Locate)).Message);
    }

    [Fact]
    public void Bad_values_name_the_flag()
    {
        Assert.Contains("--use-moe 2", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--use_moe", "2"])).Message);
        Assert.Contains("--hidden-size", Assert.Throws<ArgumentException>(() =>
            TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", TempDir.Create(), "--hidden_size", "60"]), Locate)).Message);
    }

    [Fact]
    public void Script_names_are_verb_aliases()
    {
        Assert.Equal("sft", TrainStageCommands.ParseRequest("full_sft", []).Stage);
        Assert.Equal("distill", TrainStageCommands.ParseRequest("distillation", []).Stage);
    }

    [Theory]
    [InlineData("--use_wandb")]
    [InlineData("--use-wandb")]
    public void Use_wandb_is_accepted_with_a_note_that_the_steps_go_to_tensorboard_and_the_dashboard(string flag)
    {
        var notes = new StringWriter();
        var args = MiniMindFlags.Rewrite(["train", "pretrain", flag, "--max-steps", "3"], notes);
        Assert.Equal(["train", "pretrain", "--max-steps", "3"], args);
        var note = Assert.Single(notes.ToString().TrimEnd().Split('\n'));
        Assert.StartsWith($"note: {flag}:", note, StringComparison.Ordinal);
        Assert.Contains("TensorBoard", note, StringComparison.Ordinal);
        Assert.Contains("dashboard", note, StringComparison.Ordinal);
        Assert.Equal(3, TrainStageCommands.ParseRequest("pretrain", [flag, "--max-steps", "3"]).MaxSteps);
    }

    [Fact]
    public void Tensorboard_is_on_unless_turned_off()
    {
        Assert.Null(TrainStageCommands.ParseRequest("pretrain", []).TensorBoard);
        Assert.True(TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("pretrain", ["--run-dir", TempDir.Create()]), Locate).Settings.TensorBoard);
        var off = TrainStageCommands.ParseRequest("pretrain", ["--tensorboard", "off", "--run-dir", TempDir.Create()]);
        Assert.False(off.TensorBoard);
        Assert.False(TrainRequestResolver.Resolve(off, Locate).Settings.TensorBoard);
        Assert.Contains("--tensorboard", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--tensorboard", "maybe"])).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_each_alias_once_in_one_section()
    {
        var r = await CliRunner.RunAsync("train", "pretrain", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("MiniMind flags", r.Out, StringComparison.Ordinal);
        foreach (var alias in MiniMindFlags.Aliases.Keys.Append("--use_wandb"))
            Assert.Equal(1, Count(r.Out, alias));
        Assert.True(Count(r.Out, "--batch-size") >= 1);
    }

    static int Count(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
            if (i + what.Length == text.Length || !(char.IsLetterOrDigit(text[i + what.Length]) || text[i + what.Length] == '_')) n++;
        return n;
    }
}
