using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using Xunit;

namespace MiniMind.Model.Tests.Training;

public class GradientStepTests
{
    [Fact]
    public void Optimizer_gets_the_unique_parameters_and_follows_the_learning_rate()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        using var step = GradientStep.For(model);
        Assert.Equal(model.OptimizerParameters().Count, step.Parameters.Count);
        Assert.Equal(20, step.Parameters.Count);                                // 21 state_dict keys, tied weight once
        Assert.Equal(model.UniqueParameterCount(), step.Length);

        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var result = Fixture.Step(step, model, set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"), lr: 0.0);
        Assert.Equal(set.Scalar("train_loss"), result.Loss, 5);
        Assert.All(model.state_dict(), kv => Assert.True(kv.Value.equal(before[kv.Key]).all().item<bool>(), kv.Key));
    }

    [Fact]
    public void Apply_clips_the_grads_but_leaves_the_given_gradient_unchanged()
    {
        // The aggregator hands one array to the applying worker and to the transport for the remote replicas: clipping
        // must scale the grads, not the array.
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        using var step = GradientStep.For(model);
        var (_, _, gradient) = Fixture.Backward(step, model, set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
        var copy = (float[])gradient.Clone();
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var norm = step.Apply(gradient, 5e-4);
        Assert.True(norm > 1.0, $"the fixture's norm {norm} should be clipped");
        Assert.Equal(copy, gradient);
        Assert.All(model.OptimizerParameters(), p => Assert.Null(p.grad));     // dropped after the step (set_to_none)
        Assert.Contains(model.state_dict(), kv => !kv.Value.equal(before[kv.Key]).all().item<bool>());
    }

    [Fact]
    public void Apply_without_the_copy_when_the_grads_hold_the_gradient_steps_bit_for_bit_as_with_it()
    {
        // The worker's cluster-of-one path (one micro-batch): the grads already hold the flat gradient, so Apply skips
        // copying it back. Two steps each way from the same init must leave the same weights and AdamW state bits.
        var set = new FixtureSet("dense_tiny");
        using var copied = Fixture.Model(set);
        using var held = Fixture.Model(set);
        using var copiedStep = GradientStep.For(copied);
        using var heldStep = GradientStep.For(held);
        for (var i = 0; i < 2; i++)
        {
            var (_, _, g1) = Fixture.Backward(copiedStep, copied, set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
            copiedStep.Apply(g1, 5e-4);
            var (_, _, g2) = Fixture.Backward(heldStep, held, set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
            Assert.True(heldStep.GradsHoldAll);
            Assert.Equal(g1, g2);
            heldStep.Apply(g2, 5e-4, gradsHoldIt: true);
            Assert.False(heldStep.GradsHoldAll);                               // only until the next Backward
        }
        var a = copied.state_dict();
        Assert.All(held.state_dict(), kv => Assert.True(kv.Value.equal(a[kv.Key]).all().item<bool>(), kv.Key));
        using var sa = new MemoryStream();
        using var sb = new MemoryStream();
        using (var w = new BinaryWriter(sa, System.Text.Encoding.UTF8, leaveOpen: true)) copiedStep.Optimizer.save_state_dict(w);
        using (var w = new BinaryWriter(sb, System.Text.Encoding.UTF8, leaveOpen: true)) heldStep.Optimizer.save_state_dict(w);
        Assert.Equal(sa.ToArray(), sb.ToArray());
    }
}

public class MaskedCrossEntropyTests
{
    [Fact]
    public void A_batch_without_loss_tokens_gives_a_zero_loss_and_zero_gradients_not_NaN()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var logits = TorchSharp.torch.randn(2, 3, 5).requires_grad_(true);
        var labels = TorchSharp.torch.tensor(new long[] { 1, 2, 3, 4, 0, 1 }).view(2, 3);
        var loss = Losses.MaskedCrossEntropy(logits, labels, TorchSharp.torch.zeros(2, 3));
        loss.backward();
        Assert.Equal(0f, loss.item<float>());
        Assert.Equal(0f, logits.grad!.abs().max().item<float>());
    }

    [Fact]
    public void The_clamp_leaves_a_real_mask_sum_bit_for_bit()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var logits = TorchSharp.torch.randn(2, 3, 5);
        var labels = TorchSharp.torch.tensor(new long[] { 1, 2, 3, 4, 0, 1 }).view(2, 3);
        var mask = TorchSharp.torch.tensor(new float[] { 0, 1, 1, 0, 0, 1 }).view(2, 3);
        var ce = TorchSharp.torch.nn.functional.cross_entropy(logits.reshape(-1, 5), labels.reshape(-1), reduction: TorchSharp.torch.nn.Reduction.None).view(2, 3);
        var expected = ((ce * mask).sum() / mask.sum()).item<float>();
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(Losses.MaskedCrossEntropy(logits, labels, mask).item<float>()));
    }
}
