using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests;

public class MixedPrecisionTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("dense_tiny")]
    [InlineData("moe_tiny")]
    public void Bf16_compute_stays_close_to_fp32_and_keeps_fp32_master_weights(string setName)
    {
        var set = new FixtureSet(setName);
        using var model = Fixture.Model(set);
        model.eval();
        using var ids = set.Tensor("input_ids");
        using var reference = set.Tensor("logits_eval");

        model.ComputeDType = ScalarType.BFloat16;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.call(ids).logits;
        Assert.Equal(ScalarType.BFloat16, logits.dtype);
        var diff = Fixture.MaxAbs(logits, reference);
        output.WriteLine($"{setName}: max|Δlogits| bf16 vs PyTorch fp32 = {diff:E2}");
        Assert.InRange(diff, 1e-6, 0.1);   // bf16 has 8 mantissa bits: visibly different, but close
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));

        model.ComputeDType = ScalarType.Float32;
        Assert.True(Fixture.MaxAbs(model.call(ids).logits, reference) <= 1e-4);
    }

    [Fact]
    public void Bf16_training_lowers_the_loss_like_fp32()
    {
        var set = new FixtureSet("dense_tiny");
        double[] Train(ScalarType dtype)
        {
            using var model = Fixture.Model(set);
            model.ComputeDType = dtype;
            using var step = GradientStep.For(model);
            using var ids = set.Tensor("input_ids");
            using var labels = set.Tensor("labels");
            using var mask = set.Tensor("loss_mask");
            return Enumerable.Range(0, 5).Select(_ => Fixture.Step(step, model, ids, labels, mask).Loss).ToArray();
        }
        var fp32 = Train(ScalarType.Float32);
        var bf16 = Train(ScalarType.BFloat16);
        output.WriteLine($"fp32 {string.Join(" ", fp32.Select(l => l.ToString("F5")))}");
        output.WriteLine($"bf16 {string.Join(" ", bf16.Select(l => l.ToString("F5")))}");
        Assert.True(bf16[^1] < bf16[0] - 0.5, "bf16 loss should fall over 5 steps on one batch");
        Assert.InRange(Math.Abs(bf16[^1] - fp32[^1]), 0, 0.05);
    }
}

/// <summary>torch.manual_seed drives libtorch's process-wide generator, so this test must not share the process
/// with tests that draw random numbers at the same time.</summary>
[CollectionDefinition(nameof(GlobalRngCollection), DisableParallelization = true)]
public sealed class GlobalRngCollection;

[Collection(nameof(GlobalRngCollection))]
public class InitParityTests(ITestOutputHelper output)
{
    [Fact]
    public void Construction_after_manual_seed_reproduces_pytorch_init()
    {
        // The fixture weights come from torch.manual_seed(1234) right before MiniMindForCausalLM(config); TorchSharp
        // shares libtorch's generator, so the same module order and init calls give the same tensors.
        var set = new FixtureSet("dense_tiny");
        torch.manual_seed(1234);
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(set.ConfigPath));
        var reference = set.RawWeights();
        var state = model.state_dict();
        var worst = reference.Max(kv => Fixture.MaxAbs(state[kv.Key], kv.Value));
        output.WriteLine($"max|Δinit| = {worst:E2}");
        Assert.Equal(0.0, worst);
    }
}
