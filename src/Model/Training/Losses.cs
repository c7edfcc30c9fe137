using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>The loss of MiniMind's pretrain/SFT step (train_pretrain.py): Σ(CE·mask)/Σmask + aux_loss, divided by
/// the accumulation steps.</summary>
public static class Losses
{
    /// <summary>Σ(CE·mask)/Σmask over (B, T) positions: per-token cross-entropy of logits (B, T, V) against labels (B, T),
    /// weighted by loss_mask (B, T) of 0/1. A batch without loss tokens gives 0 (MiniMind's 0/0 would be NaN and poison
    /// the weights); Σmask ≥ 1 is unchanged by the clamp, so every other result is bit for bit MiniMind's.</summary>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor labels, Tensor loss_mask)
    {
        using var scope = NewDisposeScope();
        var ce = TokenCrossEntropy(logits, labels);
        var loss = (ce * loss_mask).sum() / loss_mask.sum().clamp_min(Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Per-position cross-entropy (B, T) of logits (B, T, V) against labels (B, T), always in float32, as
    /// autocast does (logits are bf16 under mixed precision).</summary>
    public static Tensor TokenCrossEntropy(Tensor logits, Tensor labels)
    {
        var V = logits.shape[^1];
        return F.cross_entropy(logits.reshape(-1, V).to_type(ScalarType.Float32), labels.reshape(-1), reduction: nn.Reduction.None).view(labels.shape);
    }

    /// <summary>MiniMind's training loss: masked-mean CE + aux_loss, divided by accumulation_steps.</summary>
    public static Tensor PretrainLoss(CausalLMOutput output, Tensor labels, Tensor loss_mask, int accumulation_steps = 1)
    {
        using var scope = NewDisposeScope();
        var loss = MaskedCrossEntropy(output.logits, labels, loss_mask).add(output.aux_loss, Scalars.One);
        if (accumulation_steps != 1)
        {
            using var steps = accumulation_steps.ToScalar();
            loss = loss.div(steps);
        }
        return loss.MoveToOuterDisposeScope();
    }
}
