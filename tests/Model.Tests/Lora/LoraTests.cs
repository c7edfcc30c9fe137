using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Lora;

public class LoraTests(ITestOutputHelper output)
{
    readonly FixtureSet set = new("lora_dense_tiny");
    readonly FixtureSet dense = new("dense_tiny");

    Dictionary<string, Tensor> FixtureLora() =>
        set.TensorNames.Where(n => n.StartsWith("lora/", StringComparison.Ordinal)).ToDictionary(n => n["lora/".Length..], set.Tensor);

    [Fact]
    public void Apply_wraps_the_square_linears_that_MiniMind_wraps()
    {
        using var model = Fixture.Model(dense);
        var wrapped = MiniMind.Model.Lora.Apply(model, rank: 8);
        var expected = set.ScalarElement("lora_modules").GetProperty("value").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(expected, wrapped);
        var keys = MiniMind.Model.Lora.StateDict(model).Keys.Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(FixtureLora().Keys.Order(StringComparer.Ordinal).ToArray(), keys);
        var sd = model.state_dict().Keys.ToList();
        Assert.Equal(sd.IndexOf("model.layers.0.self_attn.q_proj.weight") + 1, sd.IndexOf("model.layers.0.self_attn.q_proj.lora.A.weight"));
        Assert.All(MiniMind.Model.Lora.StateDict(model).Where(kv => kv.Key.EndsWith(".B.weight", StringComparison.Ordinal)),
                   kv => Assert.Equal(0.0, kv.Value.abs().max().item<float>()));
    }

    [Fact]
    public void Fresh_lora_leaves_logits_unchanged_and_loaded_lora_matches_MiniMind()
    {
        using var model = Fixture.Model(dense);
        model.eval();
        MiniMind.Model.Lora.Apply(model, rank: 8);
        using var _ = no_grad();
        var ids = set.Tensor("input_ids");
        var zeroB = Fixture.MaxAbs(model.call(ids).logits, dense.Tensor("logits_eval"));
        output.WriteLine($"B = 0: max|Δlogits vs dense_tiny| = {zeroB:E2}");
        Assert.True(zeroB <= 1e-4);

        MiniMind.Model.Lora.Load(model, FixtureLora());
        var logits = model.call(ids).logits;
        var effect = Fixture.MaxAbs(logits, dense.Tensor("logits_eval"));
        output.WriteLine($"LoRA effect on logits = {effect:E2} (reference {set.Scalar("lora_effect_max_abs_logit_change"):E2})");
        Assert.True(effect > 0.1);
        var d = Fixture.MaxAbs(logits, set.Tensor("logits_eval_lora"));
        output.WriteLine($"max|Δlogits_eval_lora| = {d:E2}");
        Assert.True(d <= 1e-4);
    }

    [Fact]
    public void Load_names_missing_and_misshaped_keys()
    {
        using var model = Fixture.Model(dense);
        MiniMind.Model.Lora.Apply(model, rank: 8);
        var weights = FixtureLora();
        weights.Remove("model.layers.1.self_attn.o_proj.lora.B.weight");
        weights["model.layers.0.self_attn.q_proj.lora.A.weight"] = zeros(4, 64);
        var e = Assert.Throws<ArgumentException>(() => MiniMind.Model.Lora.Load(model, weights));
        Assert.Contains("missing 'model.layers.1.self_attn.o_proj.lora.B.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'model.layers.0.self_attn.q_proj.lora.A.weight' has shape [4,64], expected [8,64]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Freezing_leaves_only_lora_trainable_and_a_step_moves_only_lora()
    {
        using var model = Fixture.Model(dense);
        MiniMind.Model.Lora.Apply(model, rank: 8);
        var trainable = MiniMind.Model.Lora.FreezeAllButLora(model);
        Assert.Equal(8, trainable.Count);
        Assert.Equal(4 * (8 * 64 + 64 * 8), trainable.Sum(p => p.numel()));
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var step = GradientStep.For(model);
        Assert.Equal(8, step.Parameters.Count);
        Fixture.Step(step, model, dense.Tensor("input_ids"), dense.Tensor("labels"), dense.Tensor("loss_mask"));
        foreach (var (key, value) in model.state_dict())
        {
            var moved = !value.equal(before[key]).all().item<bool>();
            Assert.True(moved == key.Contains(".lora.", StringComparison.Ordinal), $"{key}: moved = {moved}");
        }
    }
}
