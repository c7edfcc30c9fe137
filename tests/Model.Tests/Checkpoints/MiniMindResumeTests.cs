using MiniMind.Model.Checkpoints;
using MiniMind.Model.IO;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>A MiniMind resume file (../shared/fixtures/model/minimind_resume_tiny: 3 AdamW steps saved by MiniMind's
/// lm_checkpoint) continues as PyTorch continued it: model (fp16 in the file), AdamW exp_avg/exp_avg_sq/step, then one
/// step on the seed-14 batch reaches PyTorch's parameters and logits within 1e-5 relative.</summary>
public sealed class MiniMindResumeTests
{
    static string File(string name) => RepoPaths.ModelFixture("minimind_resume_tiny", name);

    static double MaxRel(Tensor actual, Tensor expected) =>
        ((actual - expected).abs().max() / expected.abs().max()).item<float>();

    [Fact]
    public void The_counters_and_the_optimizer_state_are_read()
    {
        using var resume = MiniMindResume.Read(File("pretrain_64_resume.pth"));
        Assert.Equal((0L, 3L, 1L), (resume.Epoch, resume.Step, resume.WorldSize));
        Assert.Equal(20, resume.Optimizer.Count);                   // the tied weight once
        Assert.All(resume.Optimizer, s => Assert.Equal(3L, s.Step));
        Assert.Equal([6400L, 64L], resume.Optimizer[0].ExpAvg.shape);
        Assert.True(resume.Optimizer[0].ExpAvgSq.min().item<float>() >= 0);
        Assert.Equal((0.9, 0.999, 1e-8, 0.01), resume.Hyper);
    }

    [Fact]
    public void Continuing_one_step_reaches_pytorchs_parameters_and_logits()
    {
        torch.set_num_threads(1);
        using var scope = NewDisposeScope();
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(RepoPaths.ModelFixture("dense_tiny", "config.json")));
        using var step = GradientStep.For(model, learning_rate: 5e-4, weight_decay: 0.01, clip: 1.0);
        using (var resume = MiniMindResume.Read(File("pretrain_64_resume.pth"))) resume.ApplyTo(model, step);

        var ids = Npy.Read(File("continue_input_ids.npy"));
        var labels = Npy.Read(File("continue_labels.npy"));
        var (loss, _, _, _) = Fixture.Step(step, model, ids, labels, ones_like(labels, ScalarType.Float32), lr: 5e-4);
        Assert.Equal(8.89323616027832, loss, 4);    // manifest loss_continue_step (before the update)

        var parameters = model.state_dict();
        foreach (var name in new[] { "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight" })
        {
            var rel = MaxRel(parameters[name], Npy.Read(File($"param_after_continue__{name}.npy")));
            Assert.True(rel <= 1e-5, $"{name}: max relative difference {rel:E2}");
        }
        model.eval();
        using (no_grad())
        {
            var rel = MaxRel(model.call(ids).logits, Npy.Read(File("logits_after_continue.npy")));
            Assert.True(rel <= 1e-5, $"logits: max relative difference {rel:E2}");
        }
    }

    [Fact]
    public void Without_the_optimizer_state_the_step_does_not_reach_pytorch()
    {
        // the check above can fail: a fresh AdamW (step 0, zero moments) from the same weights lands elsewhere
        torch.set_num_threads(1);
        using var scope = NewDisposeScope();
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(RepoPaths.ModelFixture("dense_tiny", "config.json")));
        using var step = GradientStep.For(model, learning_rate: 5e-4, weight_decay: 0.01, clip: 1.0);
        StateDictLoader.LoadFile(model, File("pretrain_64_resume.pth"));
        var ids = Npy.Read(File("continue_input_ids.npy"));
        var labels = Npy.Read(File("continue_labels.npy"));
        Fixture.Step(step, model, ids, labels, ones_like(labels, ScalarType.Float32), lr: 5e-4);
        var name = "model.layers.0.self_attn.q_proj.weight";
        Assert.True(MaxRel(model.state_dict()[name], Npy.Read(File($"param_after_continue__{name}.npy"))) > 1e-4);
    }

    [Theory]
    [InlineData(3, 1, 4, 1, 0, 3L, false)]        // same global batch: the step as is
    [InlineData(3, 2, 4, 1, 0, 6L, true)]         // two ranks before, one process now: twice the steps
    [InlineData(6, 1, 4, 2, 0, 3L, true)]         // MiniMind counts micro-batches; accumulation 2 here
    [InlineData(7, 1, 4, 2, 0, 3L, true)]         // an unfinished accumulation is redone
    [InlineData(3, 1, 4, 1, 2, 23L, false)]       // epoch 3 of 10 steps each
    public void The_step_is_rescaled_to_our_global_batch(long step, long worldSize, int batch, int accumulation, long epoch, long expected, bool noted)
    {
        var (ours, note) = MiniMindResume.OptimizerStepFor(epoch, step, worldSize, batch, accumulation, stepsPerEpoch: 10);
        Assert.Equal(expected, ours);
        Assert.Equal(noted, note is not null);
    }
}
