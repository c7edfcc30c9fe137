using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Parity;

public class MoeParityTests(ITestOutputHelper output) : CausalLMParityTests("moe_tiny", output)
{
    protected override double ChecksumSumTolerance => 2e-3;

    protected override double GradTolerance => 5e-5;

    protected override double LossAfterStepTolerance => 1e-4;

    /// <summary>README: ≥ 99.9 % of elements within 1e-5 and all within 1e-3 (a gradient near 0 can flip an update by lr).</summary>
    protected override void CheckParamsAfterStep(MiniMindForCausalLM model)
    {
        foreach (var name in set.TensorNames.Where(n => n.StartsWith("param_after_step/", StringComparison.Ordinal)))
        {
            using var d = (Slice(model, name["param_after_step/".Length..]) - set.Tensor(name)).abs();
            var within = d.le(1e-5).to_type(ScalarType.Float64).mean().item<double>();
            output.WriteLine($"{set.Name}: {name}: {within:P3} within 1e-5");
            Assert.True(within >= 0.999, $"{name}: only {within:P3} within 1e-5");
            Report($"max|Δ{name}|", d.max().item<float>(), 1e-3);
        }
    }

    [Fact]
    public void Train_mode_logits_reproduce_the_float16_expert_buffer()
    {
        using var model = Fixture.Model(set);
        model.train();
        using var _ = no_grad();
        var out_ = model.call(set.Tensor("input_ids"));
        Report("max|Δlogits_train|", Fixture.MaxAbs(out_.logits, set.Tensor("logits_train")), 1e-4);
        Report("|Δtrain_aux_loss| (no_grad)", Math.Abs(out_.aux_loss.item<float>() - set.Scalar("train_aux_loss")), 1e-6);
    }

    [Fact]
    public void Eval_gate_picks_the_same_experts_with_the_same_weights()
    {
        using var model = Fixture.Model(set);
        model.eval();
        using var _ = no_grad();
        var captured = new List<GateOutput>();
        foreach (var (name, module) in model.named_modules().Where(m => m.module is MoEGate))
            ((MoEGate)module).register_forward_hook((_, _, g) =>
            {
                captured.Add(new GateOutput(g.topk_idx.clone().DetachFromDisposeScope(), g.topk_weight.clone().DetachFromDisposeScope(), g.aux_loss));
                return g;
            });
        model.call(set.Tensor("input_ids"));
        Assert.Equal(2, captured.Count);
        for (var l = 0; l < captured.Count; l++)
        {
            // MiniMind's topk(sorted=False) order is unspecified: compare each row as a set (sorted by expert id).
            var (idx, order) = captured[l].topk_idx.sort(-1);
            var weights = captured[l].topk_weight.gather(-1, order);
            Assert.True(idx.eq(set.Tensor($"gate_eval/layer{l}_topk_idx")).all().item<bool>(), $"layer {l}: expert ids differ");
            Report($"max|Δgate_eval/layer{l}_topk_weight|", Fixture.MaxAbs(weights, set.Tensor($"gate_eval/layer{l}_topk_weight")), 1e-6);
        }
    }
}
