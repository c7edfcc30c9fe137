using MiniMind.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>train_dpo.py: the policy (from the SFT output, trained) against a frozen reference (the same SFT file,
/// eval, no grad), β = <see cref="TrainingSettings.DpoBeta"/>, sequence-averaged masked log-probs (<see cref="Dpo"/>).
/// A micro-batch row is a pair (<see cref="DpoPairDataset"/>); it becomes MiniMind's batch of chosen rows then
/// rejected rows. No aux loss, as in MiniMind.</summary>
public sealed class DpoObjective(TrainingSettings settings) : FrozenModelObjective(settings, "DPO reference")
{
    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device)
    {
        var reference = Frozen;
        var (x, y, mask) = Inputs(batch, device);                                   // (B, 2T): pair rows
        using var steps = accumulation.ToScalar();                       // explicit Scalar lifetime: see Scalars
        return Loss(model, reference, Split(x), Split(y), Split(mask), Settings.DpoBeta).div(steps);
    }

    /// <summary>MiniMind's DPO loss of a (2B, T) batch, chosen rows first.</summary>
    public static Tensor Loss(MiniMindForCausalLM policy, MiniMindForCausalLM reference, Tensor x, Tensor y, Tensor mask, double beta)
    {
        using var scope = NewDisposeScope();
        Tensor refProbs;
        using (no_grad())
            refProbs = Dpo.LogitsToProbs(reference.call(x).logits, y) * mask;            // (2B, T)
        var probs = Dpo.LogitsToProbs(policy.call(x).logits, y) * mask;                   // (2B, T)
        return Dpo.Loss(refProbs, probs, mask, beta).MoveToOuterDisposeScope();
    }

    /// <summary>(B, 2T) pair rows → (2B, T): the B chosen halves, then the B rejected halves (MiniMind's torch.cat order).</summary>
    public static Tensor Split(Tensor pairs)
    {
        var (b, t) = (pairs.shape[0], pairs.shape[1] / 2);
        return pairs.view(b, 2, t).transpose(0, 1).reshape(2 * b, t);
    }
}
