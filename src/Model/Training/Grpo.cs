using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>Which policy loss <see cref="Grpo.Loss"/> computes (MiniMind's <c>--loss_type</c>).</summary>
public enum GrpoLossType
{
    /// <summary>PPO-style: −min(r·A, clip(r, 1−ε, 1+ε)·A) + β·KL.</summary>
    Grpo,
    /// <summary>CISPO: −(min(r, ε_high).detach()·A·log π) + β·KL: the ratio weighs the log-prob's gradient, never clips it away.</summary>
    Cispo,
}

/// <summary>MiniMind's GRPO/CISPO hyperparameters (train_grpo.py's argparse defaults).</summary>
/// <param name="Beta">0.1: weight of the k3 KL to the reference.</param>
/// <param name="Epsilon">0.2: GRPO's clip range 1 ± ε.</param>
/// <param name="EpsilonHigh">5.0: CISPO's upper clamp of the ratio.</param>
public sealed record GrpoHyper(GrpoLossType LossType = GrpoLossType.Cispo, double Beta = 0.1, double Epsilon = 0.2, double EpsilonHigh = 5.0)
{
    /// <summary>"grpo" or "cispo" (the flag's values).</summary>
    public static GrpoLossType ParseLossType(string value) => value switch
    {
        "grpo" => GrpoLossType.Grpo,
        "cispo" => GrpoLossType.Cispo,
        _ => throw new ArgumentException($"unknown GRPO loss type '{value}' (expected cispo or grpo)"),
    };
}

/// <summary>The pieces of one GRPO/CISPO loss (all (N, R) but <see cref="PolicyLoss"/>, a scalar with its graph).</summary>
public sealed record GrpoLossParts(Tensor PolicyLoss, Tensor PerTokenLoss, Tensor Ratio, Tensor PerTokenKl, Tensor ClippedFraction) : IDisposable
{
    public void Dispose()
    {
        PolicyLoss.Dispose();
        PerTokenLoss.Dispose();
        Ratio.Dispose();
        PerTokenKl.Dispose();
        ClippedFraction.Dispose();
    }
}

/// <summary>
/// The learner's math of MiniMind's trainer/train_grpo.py (grpo_train_epoch, d65ef2c), on a batch of N = prompts ×
/// num_generations rows laid out as <c>outputs</c> (N, L) = prompt | completion, right-padded with the pad id:
/// per-token log-probs of the completion at <c>logp_pos</c>, group-normalised advantages, the completion mask truncated
/// after the first EOS, the k3 KL to the reference, and the clipped (GRPO) or clamped-and-detached (CISPO) ratio.
/// Checked against PyTorch on ../shared/fixtures/model/grpo_dense_tiny (GrpoParityTests).
/// </summary>
public static class Grpo
{
    /// <summary>MiniMind's 1e-4 added to the group's standard deviation.</summary>
    public const double AdvantageEps = 1e-4;

    /// <summary><c>log_softmax(logits[:, :-1]).gather(outputs[:, 1:]).gather(1, logp_pos)</c> → (N, R) float32: the
    /// log-prob of each completion token given what precedes it. Only the R positions are normalised (log_softmax is
    /// per position, so this equals normalising all L − 1 and gathering).</summary>
    /// <param name="logits">(N, L, V)</param>
    /// <param name="outputs">(N, L) int64</param>
    /// <param name="logpPos">(N, R) int64: prompt_len − 1 + j, the position whose logits predict completion token j.</param>
    public static Tensor PerTokenLogps(Tensor logits, Tensor outputs, Tensor logpPos)
    {
        using var scope = NewDisposeScope();
        var (n, r, v) = (logpPos.shape[0], logpPos.shape[1], logits.shape[2]);
        var at = logits.gather(1, logpPos.unsqueeze(2).expand(n, r, v));               // (N, R, V)
        var logProbs = F.log_softmax(at.to_type(ScalarType.Float32), 2);
        var targets = outputs.gather(1, logpPos.add(Scalars.One, Scalars.One));           // (N, R): outputs[:, 1:] at logp_pos
        return logProbs.gather(2, targets.unsqueeze(2)).squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>(r − mean_g) / (std_g + 1e-4) per group of <paramref name="groupSize"/> consecutive rows; std with
    /// <c>unbiased=False</c>. <paramref name="rewards"/> (N) float32 → (N).</summary>
    public static Tensor Advantages(Tensor rewards, int groupSize)
    {
        using var scope = NewDisposeScope();
        var grouped = rewards.view(-1, groupSize);                                     // (B, G)
        var mean = grouped.mean([1L], keepdim: true).expand(-1, groupSize).reshape(-1);
        var std = grouped.std(1, unbiased: false, keepdim: true).expand(-1, groupSize).reshape(-1);
        using var eps = AdvantageEps.ToScalar();
        return rewards.sub(mean).div(std.add(eps, Scalars.One)).MoveToOuterDisposeScope();
    }

    /// <summary>1 up to and including the first <paramref name="eosId"/> of each completion row, 0 after (rows without
    /// EOS: all of <paramref name="padMask"/>), and 0 wherever <paramref name="padMask"/> is → (N, R) int32.</summary>
    /// <param name="completionIds">(N, R) int64</param>
    /// <param name="padMask">(N, R): 1 where the completion has a token (MiniMind's rollout: all ones).</param>
    public static Tensor CompletionMask(Tensor completionIds, Tensor padMask, long eosId)
    {
        using var scope = NewDisposeScope();
        using var eos = eosId.ToScalar();
        var valid = padMask.to_type(ScalarType.Bool);
        var isEos = completionIds.eq(eos).logical_and(valid);                          // (N, R)
        var r = isEos.shape[1];
        var any = isEos.any(1);                                                        // (N)
        var first = isEos.to_type(ScalarType.Int32).argmax(1);                         // first True (argmax of the first max)
        using var last = (r - 1).ToScalar();
        var eosIdx = torch.where(any, first, torch.full_like(first, last));            // (N)
        var positions = torch.tensor(Enumerable.Range(0, (int)r).Select(i => (long)i).ToArray(), [1, r], device: completionIds.device);   // (1, R)
        return positions.le(eosIdx.unsqueeze(1)).logical_and(valid).to_type(ScalarType.Int32).MoveToOuterDisposeScope();
    }

    /// <summary>k3: e^(ref − logp) − (ref − logp) − 1, per token.</summary>
    public static Tensor PerTokenKl(Tensor refLogps, Tensor logps)
    {
        using var scope = NewDisposeScope();
        var d = refLogps.sub(logps);
        return d.exp().sub(d).sub(Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>MiniMind's policy loss: the per-token loss of <paramref name="hyper"/>'s type, its masked mean per row
    /// (÷ max(1, Σ mask)), then the mean over rows. <paramref name="logps"/> carries the graph; the others are
    /// constants. <see cref="GrpoLossParts.ClippedFraction"/>: the share of masked tokens whose ratio the loss clipped
    /// (GRPO: outside 1 ± ε; CISPO: above ε_high).</summary>
    /// <param name="logps">(N, R) the policy's per-token log-probs (with grad).</param>
    /// <param name="oldLogps">(N, R) the rollout policy's.</param>
    /// <param name="refLogps">(N, R) the frozen reference's.</param>
    /// <param name="advantages">(N)</param>
    /// <param name="completionMask">(N, R) 0/1 (any dtype).</param>
    public static GrpoLossParts Loss(Tensor logps, Tensor oldLogps, Tensor refLogps, Tensor advantages, Tensor completionMask, GrpoHyper hyper)
    {
        using var scope = NewDisposeScope();
        using var beta = hyper.Beta.ToScalar();
        var kl = PerTokenKl(refLogps, logps);
        var ratio = logps.sub(oldLogps).exp();
        var adv = advantages.unsqueeze(1);                                             // (N, 1)
        Tensor perToken, clipped;
        if (hyper.LossType == GrpoLossType.Cispo)
        {
            using var high = hyper.EpsilonHigh.ToScalar();
            var clampedRatio = ratio.clamp_max(high).detach();
            perToken = clampedRatio.mul(adv).mul(logps).sub(kl.mul(beta)).neg();
            clipped = ratio.gt(high);
        }
        else
        {
            using Scalar low = (1 - hyper.Epsilon).ToScalar(), up = (1 + hyper.Epsilon).ToScalar();
            var clippedRatio = ratio.clamp(low, up);
            perToken = torch.minimum(ratio.mul(adv), clippedRatio.mul(adv)).sub(kl.mul(beta)).neg();
            clipped = ratio.lt(low).logical_or(ratio.gt(up));
        }
        var mask = completionMask;
        var rowLoss = perToken.mul(mask).sum(1).div(mask.sum(1).clamp_min(Scalars.One));
        var policyLoss = rowLoss.mean();
        var maskBool = mask.to_type(ScalarType.Bool);
        var clipFraction = clipped.logical_and(maskBool).sum().to_type(ScalarType.Float32)
            .div(maskBool.sum().clamp_min(Scalars.One).to_type(ScalarType.Float32));
        return new GrpoLossParts(policyLoss.MoveToOuterDisposeScope(), perToken.MoveToOuterDisposeScope(), ratio.MoveToOuterDisposeScope(),
            kl.MoveToOuterDisposeScope(), clipFraction.MoveToOuterDisposeScope());
    }
}
