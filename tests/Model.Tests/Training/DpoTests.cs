using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

public class DpoTests(ITestOutputHelper output)
{
    readonly FixtureSet set = new("dpo_dense_tiny");

    void Report(string what, double value, double limit)
    {
        output.WriteLine($"dpo_dense_tiny: {what} = {value:E2} (limit {limit:E0})");
        Assert.True(value <= limit, $"{what} = {value:E3} > {limit:E0}");
    }

    [Fact]
    public void Dpo_log_probs_logits_loss_and_policy_grad_norm_match_train_dpo()
    {
        using var policy = Fixture.Model(new FixtureSet("dense_tiny"));
        using var reference = Fixture.Model(set);
        var x = cat([set.Tensor("x_chosen"), set.Tensor("x_rejected")], 0);   // chosen rows first
        var y = cat([set.Tensor("y_chosen"), set.Tensor("y_rejected")], 0);
        var mask = cat([set.Tensor("mask_chosen"), set.Tensor("mask_rejected")], 0);

        Tensor refProbs;
        reference.eval();
        using (no_grad())
            refProbs = Dpo.LogitsToProbs(reference.call(x).logits, y) * mask;
        policy.train();
        var probs = Dpo.LogitsToProbs(policy.call(x).logits, y) * mask;
        var loss = Dpo.Loss(refProbs, probs, mask, beta: set.Scalar("beta"));

        Report("max|Δref_token_logprobs_masked|", Fixture.MaxAbs(refProbs, set.Tensor("ref_token_logprobs_masked")), 1e-5);
        Report("max|Δpolicy_token_logprobs_masked|", Fixture.MaxAbs(probs.detach(), set.Tensor("policy_token_logprobs_masked")), 1e-5);
        Report("max|Δref_seq_avg_logprob|", Fixture.MaxAbs(Dpo.SequenceMean(refProbs, mask), set.Tensor("ref_seq_avg_logprob")), 1e-5);
        Report("max|Δpolicy_seq_avg_logprob|", Fixture.MaxAbs(Dpo.SequenceMean(probs, mask).detach(), set.Tensor("policy_seq_avg_logprob")), 1e-5);
        Report("max|Δdpo_logits|", Fixture.MaxAbs(Dpo.Logits(refProbs, probs, mask).detach(), set.Tensor("dpo_logits")), 1e-5);
        Report("|Δdpo_loss|", Math.Abs(loss.item<float>() - set.Scalar("dpo_loss")), 1e-5);

        loss.backward();
        var norm = nn.utils.clip_grad_norm_(policy.OptimizerParameters(), 1.0);
        var refNorm = set.Scalar("policy_grad_norm");
        output.WriteLine($"policy_grad_norm = {norm:R}, reference {refNorm:R}");
        Report("rel|Δpolicy_grad_norm|", Math.Abs(norm - refNorm) / refNorm, 1e-4);
    }
}
