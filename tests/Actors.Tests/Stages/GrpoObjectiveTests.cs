using MiniMind.Actors.Rl;
using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Data;
using MiniMind.Model.Tokenizer;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Actors.Tests.Stages;

/// <summary>A GRPO micro-batch on the worker: rollouts, rewards, group advantages and the loss; re-issued (another
/// worker, a restart) it gives the same gradient bit for bit, because rollouts are seeded by (seed, step, sample, generation).</summary>
public sealed class GrpoObjectiveTests(ITestOutputHelper output)
{
    internal static TrainingSettings Settings() => new()
    {
        Stage = "grpo",
        ConfigJson = MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson(),
        TokenizerPath = RepoPaths.Tokenizer,
        InitFrom = RepoPaths.ModelFixture("grpo_dense_tiny", "policy_before.pth"),
        FrozenModelPath = RepoPaths.ModelFixture("grpo_dense_tiny", "reference.pth"),
        MaxSeqLen = 96,
        Grpo = new GrpoSettings { NumGenerations = 3, MaxGenLen = 10 },
    };

    internal static DataLoader.MicroBatch Batch(params long[] samples)
    {
        var data = RlaifDataset.Load(RepoPaths.Dataset("rlaif.jsonl"), BpeTokenizer.FromFile(RepoPaths.Tokenizer), 96, 0.9, 42);
        var rows = samples.Select(data.Get).ToArray();
        return new DataLoader.MicroBatch(rows.Length, 96, [.. rows.SelectMany(r => r.X)], [.. rows.SelectMany(r => r.Y)],
            [.. rows.SelectMany(r => r.LossMask)], samples);
    }

    /// <summary>A fresh worker's gradient of the micro-batch at <paramref name="step"/>.</summary>
    static (float Loss, float[] Gradient, GrpoStats Stats) Gradient(DataLoader.MicroBatch batch, long step, IRewardModel? reward = null)
    {
        torch.set_num_threads(1);
        using var objective = (GrpoObjective)StageObjective.For(Settings());
        if (reward is not null) objective.UseRewards(reward);
        using var model = objective.BuildModel(CPU, fresh: true);
        using var gradientStep = new GradientStep(objective.TrainableParameters(model), 1e-4, 0.01);
        var gradient = new float[gradientStep.Length];
        var loss = gradientStep.Backward(model, () => objective.Loss(model, batch, 1, CPU, step), gradient);
        return (loss, gradient, objective.Last!);
    }

    [Fact]
    public void A_reissued_micro_batch_gives_the_same_gradient_bit_for_bit()
    {
        var batch = Batch(3, 17);
        var reward = new LengthReward();                                  // rewards that differ within a group, so A ≠ 0
        var a = Gradient(batch, step: 5, reward);
        var b = Gradient(batch, step: 5, reward);
        var other = Gradient(batch, step: 6, reward);
        output.WriteLine($"loss {a.Loss:R}, stats {a.Stats}");
        Assert.Equal(BitConverter.SingleToInt32Bits(a.Loss), BitConverter.SingleToInt32Bits(b.Loss));
        Assert.True(a.Gradient.AsSpan().SequenceEqual(b.Gradient), "the re-issued gradient differs");
        Assert.False(a.Gradient.AsSpan().SequenceEqual(other.Gradient), "another step's rollouts gave the same gradient");
        Assert.Contains(a.Gradient, g => g != 0);

        Assert.Equal(6, a.Stats.Completions);
        Assert.True(a.Stats.RewardStd > 0);
        Assert.InRange(a.Stats.CompletionLength, 1, 10);
        Assert.True(a.Stats.Kl > 0, "policy_before differs from the reference: k3 KL > 0");
    }

    [Fact]
    public void Equal_rewards_in_every_group_leave_only_the_KL_term()
    {
        var batch = Batch(0, 1);
        var (loss, _, stats) = Gradient(batch, step: 0, new ConstantReward());
        Assert.Equal(0, stats.RewardStd);
        // A = 0, so the loss is β·(mean over rows of the masked mean k3 KL); every row runs to the cap here (an untrained
        // policy does not say EOS), so that is β times the batch's masked mean KL
        Assert.Equal(10, stats.CompletionLength);
        Assert.True(stats.Kl > 0);
        Assert.Equal(0.1 * stats.Kl, loss, 0.1 * stats.Kl * 1e-4);
    }

    [Fact]
    public void Messages_are_parsed_back_from_the_rendered_prompt_as_minimind_does()
    {
        var prompt = RlaifDataset.Render([new ChatMessage("user", "Hi there"), new ChatMessage("assistant", "Hello"), new ChatMessage("user", "Who are you?")], thinking: true);
        var messages = GrpoObjective.Messages(prompt);
        Assert.Equal([("system", "You are a helpful assistant"), ("user", "Hi there"), ("assistant", "Hello"), ("user", "Who are you?")],
            messages.Select(m => (m.Role!, m.Content!)));
        Assert.Equal("ok", new RewardItem(messages, "<think>hm</think>\n ok ").Answer);
        Assert.Equal("plain", new RewardItem(messages, "plain").Answer);
    }

    sealed class LengthReward : IRewardModel
    {
        public string Name => "length";
        public float[] Score(IReadOnlyList<RewardItem> items) => [.. items.Select(i => (float)i.Response.Length)];
        public void Dispose() { }
    }

    sealed class ConstantReward : IRewardModel
    {
        public string Name => "constant";
        public float[] Score(IReadOnlyList<RewardItem> items) => [.. items.Select(_ => 1f)];
        public void Dispose() { }
    }
}
