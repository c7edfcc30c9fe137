using System.Text.Json;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.IO;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

/// <summary>MiniMind's GRPO and CISPO learner step (trainer/train_grpo.py d65ef2c) against PyTorch on
/// ../shared/fixtures/model/grpo_dense_tiny: given rollouts, old log-probs and rewards, the per-token log-probs,
/// advantages, completion mask, k3 KL, ratio, per-token loss, loss, grad norm and three parameters after one step
/// (clip 1.0, AdamW lr 1e-4, torch defaults otherwise), within the manifest's tolerances; the rule rewards exactly.</summary>
public sealed class GrpoParityTests(ITestOutputHelper output)
{
    const string Set = "grpo_dense_tiny";
    const double PerTokenTolerance = 1e-5;     // manifest: per-token arrays 1e-5 absolute
    const double RelativeTolerance = 1e-5;     // manifest: losses, grad norms, params after step 1e-5 relative

    static string File(string name) => RepoPaths.ModelFixture(Set, name);

    static JsonElement Manifest { get; } = JsonDocument.Parse(System.IO.File.ReadAllText(File("manifest.json"))).RootElement.Clone();

    static GrpoHyper Hyper(string type)
    {
        var c = Manifest.GetProperty("constants");
        return new GrpoHyper(GrpoHyper.ParseLossType(type), c.GetProperty("beta").GetDouble(), c.GetProperty("epsilon").GetDouble(),
            c.GetProperty("epsilon_high").GetDouble());
    }

    void Absolute(string what, Tensor actual, string fixture)
    {
        using var expected = Npy.Read(File(fixture));
        Assert.Equal(expected.shape, actual.shape);
        var diff = (actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs().max().item<double>();
        output.WriteLine($"{what}: max|Δ| = {diff:E2} (limit {PerTokenTolerance:E0})");
        Assert.True(diff <= PerTokenTolerance, $"{what}: max|Δ| = {diff:E3}");
    }

    void RelativeToMax(string what, Tensor actual, string fixture)
    {
        using var expected = Npy.Read(File(fixture));
        var e = expected.to_type(ScalarType.Float64);
        var rel = ((actual.to_type(ScalarType.Float64) - e).abs().max() / e.abs().max()).item<double>();
        output.WriteLine($"{what}: max|Δ|/max|expected| = {rel:E2} (limit {RelativeTolerance:E0})");
        Assert.True(rel <= RelativeTolerance, $"{what}: max|Δ|/max|expected| = {rel:E3}");
    }

    void Relative(string what, double actual, double expected)
    {
        var rel = Math.Abs(actual - expected) / Math.Abs(expected);
        output.WriteLine($"{what}: {actual:R} vs {expected:R}, rel {rel:E2}");
        Assert.True(rel <= RelativeTolerance, $"{what}: {actual:R} vs {expected:R} (rel {rel:E3})");
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("cispo")]
    public void One_learner_step_matches_train_grpo(string lossType)
    {
        torch.set_num_threads(1);
        using var scope = NewDisposeScope();
        var constants = Manifest.GetProperty("constants");
        var config = MiniMindConfig.Load(RepoPaths.ModelFixture("dense_tiny", "config.json"));
        using var policy = ModelLoader.Load(config, File("policy_before.pth"));
        using var reference = ModelLoader.Load(config, File("reference.pth"));
        using var step = GradientStep.For(policy, learning_rate: 1e-4, weight_decay: 0.01, clip: constants.GetProperty("grad_clip").GetDouble());

        var outputs = Npy.Read(File("outputs.npy"));
        var completionIds = Npy.Read(File("completion_ids.npy"));
        var fullMask = Npy.Read(File("full_mask.npy"));
        var logpPos = Npy.Read(File("logp_pos.npy"));
        var rewards = Npy.Read(File("rewards.npy"));
        var oldLogps = Npy.Read(File("old_per_token_logps.npy"));
        var eos = constants.GetProperty("eos_id").GetInt64();
        var groupSize = constants.GetProperty("num_generations").GetInt32();

        Tensor refLogps;
        using (no_grad())
            refLogps = Grpo.PerTokenLogps(reference.forward(outputs, fullMask, null, false).logits, outputs, logpPos);
        Absolute("ref_per_token_logps", refLogps, "ref_per_token_logps.npy");

        var advantages = Grpo.Advantages(rewards, groupSize);
        Absolute("advantages", advantages, $"{lossType}_advantages.npy");
        var mask = Grpo.CompletionMask(completionIds, ones_like(completionIds), eos);
        using (var expectedMask = Npy.Read(File($"{lossType}_completion_mask.npy")))
            Assert.True(mask.eq(expectedMask).all().item<bool>(), "completion mask differs");

        var gradient = new float[step.Length];
        var loss = step.Backward(policy, () =>
        {
            var logps = Grpo.PerTokenLogps(policy.forward(outputs, fullMask, null, false).logits, outputs, logpPos);
            var parts = Grpo.Loss(logps, oldLogps, refLogps, advantages, mask, Hyper(lossType));
            Absolute("per_token_logps", logps.detach(), $"{lossType}_per_token_logps.npy");
            Absolute("per_token_kl", parts.PerTokenKl.detach(), $"{lossType}_per_token_kl.npy");   // inside: Backward's scope ends with it
            Absolute("ratio", parts.Ratio.detach(), $"{lossType}_ratio.npy");
            // End to end, a one-ulp difference of a log-prob (9.5e-7 at |logp| ≈ 9, from the forward's float32 sums)
            // moves CISPO's per-token loss r·A·logp by up to r·|A|·(1 + |logp|)·ulp ≈ 2e-5 on values up to 18: the
            // manifest's 1e-5 absolute cannot hold for it, so it is checked relative to the largest value (the
            // manifest's 1e-5 for the other results), and the formula itself to 1e-5 absolute on the fixture's inputs below.
            RelativeToMax("per_token_loss", parts.PerTokenLoss.detach(), $"{lossType}_per_token_loss.npy");
            return parts.PolicyLoss;
        }, gradient);
        var results = Manifest.GetProperty("results").GetProperty(lossType);
        Relative("loss", loss, results.GetProperty("loss").GetDouble());

        var norm = step.Apply(gradient, lr: 1e-4);
        Relative("grad_norm", norm, results.GetProperty("grad_norm").GetDouble());
        var parameters = policy.state_dict();
        foreach (var name in new[] { "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight" })
        {
            using var expected = Npy.Read(File($"{lossType}_param_after_step__{name}.npy"));
            var rel = ((parameters[name] - expected).abs().max() / expected.abs().max()).item<float>();
            output.WriteLine($"{name}: max rel {rel:E2}");
            Assert.True(rel <= RelativeTolerance, $"{name}: max relative difference {rel:E2}");
        }
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("cispo")]
    public void The_loss_on_the_fixtures_log_probs_matches_per_token(string lossType)
    {
        using var scope = NewDisposeScope();
        var logps = Npy.Read(File($"{lossType}_per_token_logps.npy"));
        var mask = Npy.Read(File($"{lossType}_completion_mask.npy"));
        using var parts = Grpo.Loss(logps, Npy.Read(File("old_per_token_logps.npy")), Npy.Read(File("ref_per_token_logps.npy")),
            Npy.Read(File($"{lossType}_advantages.npy")), mask, Hyper(lossType));
        Absolute("per_token_kl", parts.PerTokenKl, $"{lossType}_per_token_kl.npy");
        Absolute("ratio", parts.Ratio, $"{lossType}_ratio.npy");
        Absolute("per_token_loss", parts.PerTokenLoss, $"{lossType}_per_token_loss.npy");
        Relative("loss", parts.PolicyLoss.item<float>(), Manifest.GetProperty("results").GetProperty(lossType).GetProperty("loss").GetDouble());
    }

    [Fact]
    public void The_clip_fraction_counts_masked_tokens_whose_ratio_is_clipped()
    {
        using var scope = NewDisposeScope();
        var logps = tensor(new float[] { 0f, 0f, 0f, 0f }, [1, 4]);
        var old = tensor(new float[] { 0f, -1f, 1f, -1f }, [1, 4]);             // ratios 1, e, 1/e, e
        var mask = tensor(new[] { 1, 1, 1, 0 }, [1, 4]);
        using var grpo = Grpo.Loss(logps, old, logps, tensor(new[] { 1f }), mask, new GrpoHyper(GrpoLossType.Grpo));
        Assert.Equal(2f / 3f, grpo.ClippedFraction.item<float>(), 6);
        using var cispo = Grpo.Loss(logps, old, logps, tensor(new[] { 1f }), mask, new GrpoHyper(GrpoLossType.Cispo, EpsilonHigh: 2.0));
        Assert.Equal(1f / 3f, cispo.ClippedFraction.item<float>(), 6);
    }

    [Fact]
    public void Rule_rewards_equal_minimind_exactly()
    {
        var lines = System.IO.File.ReadAllLines(File("rule_rewards.jsonl")).Where(l => l.Length > 0).ToList();
        Assert.Equal(10, lines.Count);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            var response = doc.RootElement.GetProperty("response").GetString()!;
            Assert.Equal(doc.RootElement.GetProperty("rep_penalty").GetDouble(), RuleReward.RepPenalty(response));
            Assert.Equal((float)doc.RootElement.GetProperty("rule_reward").GetDouble(), RuleReward.Score(response));
        }
    }
}
