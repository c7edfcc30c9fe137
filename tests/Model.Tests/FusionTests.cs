using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests;

/// <summary>The fused q/k/v and gate/up projections (<see cref="Fusion"/>) compute MiniMind's numbers with MiniMind's
/// parameters: the same logits and gradients as the separate matmuls within float32 rounding, the same state_dict keys.</summary>
[Collection(nameof(GlobalRngCollection))]
public class FusionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("dense_tiny")]
    [InlineData("moe_tiny")]
    public void Fused_projections_match_the_separate_ones_in_logits_and_gradients(string setName)
    {
        var set = new FixtureSet(setName);
        using var fused = Fixture.Model(set);
        using var separate = Fixture.Model(set);
        Switch(fused, true);
        Switch(separate, false);
        Assert.Equal(separate.state_dict().Keys, fused.state_dict().Keys);
        Assert.Contains(fused.state_dict().Keys, k => k.EndsWith("self_attn.k_proj.weight", StringComparison.Ordinal));
        Assert.Contains(fused.state_dict().Keys, k => k.EndsWith("mlp.up_proj.weight", StringComparison.Ordinal)
                                                    || k.EndsWith("experts.0.up_proj.weight", StringComparison.Ordinal));

        using var ids = set.Tensor("input_ids");
        var (fusedLogits, fusedGrads) = LogitsAndGrads(fused, ids);
        var (separateLogits, separateGrads) = LogitsAndGrads(separate, ids);
        var logitDiff = Fixture.MaxAbs(fusedLogits, separateLogits);
        output.WriteLine($"{setName}: max|Δlogits| fused vs separate = {logitDiff:E2}");
        Assert.True(logitDiff <= 1e-5, $"logits differ by {logitDiff:E2}");
        var worst = 0.0;
        foreach (var (name, g) in fusedGrads)
        {
            var d = Fixture.MaxAbs(g, separateGrads[name]);
            var scale = separateGrads[name].abs().max().item<float>();
            worst = Math.Max(worst, d / Math.Max(scale, 1e-12));
            Assert.True(d <= 1e-5 * Math.Max(scale, 1e-3), $"{name}: grads differ by {d:E2} (max |g| {scale:E2})");
        }
        output.WriteLine($"{setName}: largest gradient difference relative to the tensor's max |g| = {worst:E2}");
    }

    [Fact]
    public void Defaults_fused_AdamW_on_projections_off_and_every_attention_and_feed_forward_takes_them()
    {
        Assert.True(!Fusion.Qkv && !Fusion.GateUp && Fusion.AdamW, Fusion.Describe());   // no MINIMIND_FUSED_* set in tests
        using var model = Fixture.Model(new FixtureSet("moe_tiny"));
        Assert.All(model.modules().OfType<Attention>(), a => Assert.Equal(Fusion.Qkv, a.FusedQkv));
        Assert.All(model.modules().OfType<FeedForward>(), f => Assert.Equal(Fusion.GateUp, f.FusedGateUp));
    }

    static void Switch(MiniMindForCausalLM model, bool on)
    {
        foreach (var a in model.modules().OfType<Attention>()) a.FusedQkv = on;
        foreach (var f in model.modules().OfType<FeedForward>()) f.FusedGateUp = on;
    }

    static (Tensor Logits, Dictionary<string, Tensor> Grads) LogitsAndGrads(MiniMindForCausalLM model, Tensor ids)
    {
        model.train();
        var output = model.call(ids);
        var logits = output.logits;
        using var loss = logits.to_type(ScalarType.Float64).square().mean().add(output.aux_loss, Scalars.One);
        loss.backward();
        var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        return (logits.detach(), grads);
    }
}
