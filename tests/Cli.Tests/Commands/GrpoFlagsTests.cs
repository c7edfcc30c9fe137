using MiniMind.Actors.Stages;
using MiniMind.Cli.Commands;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary>`train grpo`'s flags: MiniMind's defaults (config/train/grpo.json) under the tiny quick start, MiniMind's
/// snake_case spellings, and a clear message naming the flag for a bad value.</summary>
public sealed class GrpoFlagsTests
{
    static string Locate(string relative) => Path.Combine(RepoPaths.Root, relative);
    static readonly string Weights = RepoPaths.ModelFixture("dense_tiny", "dense_tiny.pth");

    static Actors.TrainingSettings Resolve(params string[] args) =>
        TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("grpo", ["--run-dir", TempDir.Create(), "--from-weight", Weights, .. args]), Locate).Settings;

    [Fact]
    public void Defaults_are_minimind_s_under_the_tiny_quick_start()
    {
        var s = Resolve();
        Assert.Equal(("grpo", 2, 1e-5, 96), (s.Stage, s.BatchSize, s.LearningRate, s.MaxSeqLen));
        Assert.Equal(new Actors.GrpoSettings { NumGenerations = 4, MaxGenLen = 24 }, s.Grpo);       // cispo, β 0.1, ε 0.2, ε_high 5, thinking 0.9
        Assert.Equal(Weights, s.FrozenModelPath);                                                   // the reference: the starting weights, frozen
        Assert.Equal(Path.Combine(s.RunDir, "grpo_64.pth"), Path.Combine(s.RunDir, s.OutputFileName));
        var minimind = Resolve("--train-config", Locate("config/train/grpo.json"), "--max-gen-len", "24", "--max-seq-len", "96").Grpo!;
        Assert.Equal(new Actors.GrpoSettings { MaxGenLen = 24 }, minimind);                          // num_generations 6 …
    }

    [Fact]
    public void MiniMinds_snake_case_flags_mean_the_same()
    {
        var kebab = Resolve("--num-generations", "3", "--beta", "0.05", "--loss-type", "grpo", "--epsilon", "0.1", "--epsilon-high", "4",
            "--max-gen-len", "16", "--thinking-ratio", "0.5", "--batch-size", "1", "--learning-rate", "3e-7");
        var snake = TrainRequestResolver.Resolve(TrainStageCommands.ParseRequest("grpo", MiniMindFlags.Rewrite(
            ["--save_dir", kebab.RunDir, "--from_weight", Weights, "--num_generations", "3", "--beta", "0.05", "--loss_type", "grpo", "--epsilon", "0.1",
             "--epsilon_high", "4", "--max_gen_len", "16", "--thinking_ratio", "0.5", "--batch_size", "1", "--learning_rate", "3e-7",
             "--reward_model_path", "../../internlm2-1_8b-reward", "--rollout_engine", "torch"], notes: null)), Locate).Settings;
        Assert.Equal(kebab, snake);
        Assert.Equal(new Actors.GrpoSettings { NumGenerations = 3, Beta = 0.05, LossType = "grpo", Epsilon = 0.1, EpsilonHigh = 4, MaxGenLen = 16, ThinkingRatio = 0.5 }, kebab.Grpo);
    }

    [Theory]
    [InlineData(new[] { "--num-generations", "1" }, "--num-generations must be ≥ 2")]
    [InlineData(new[] { "--thinking-ratio", "1.5" }, "--thinking-ratio must be in [0, 1]")]
    [InlineData(new[] { "--max-seq-len", "400", "--max-gen-len", "200" }, "--max-seq-len 400 + --max-gen-len 200 exceed the model's max_position_embeddings 512")]
    [InlineData(new[] { "--reward-url", "ftp://x" }, "--reward-url ftp://x: expected an http:// or https:// URL")]
    public void A_bad_value_names_its_flag(string[] args, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => Resolve(args)).Message);

    [Fact]
    public void Grpo_flags_on_another_stage_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => TrainRequestResolver.Resolve(new TrainRequest { Stage = "sft", NumGenerations = 4 }, Locate));
        Assert.Contains("--num-generations", e.Message);
        Assert.Contains("grpo stage only", e.Message);
    }
}
