using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>MiniMind's DPO (trainer/train_dpo.py): the batch is chosen rows then rejected rows,
/// and a sequence's score is its <b>mean</b> token log-prob over the mask (not the sum of standard DPO).</summary>
public static class Dpo
{
    /// <summary>logits_to_probs: log_softmax(logits, -1) gathered at labels → (B, T) token log-probs, in float32 (as
    /// autocast runs log_softmax; bf16 logits under mixed precision are cast first, fp32 ones are used as they are).</summary>
    public static Tensor LogitsToProbs(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logProbs = F.log_softmax(logits.to_type(ScalarType.Float32), 2); // (B, T, V)
        return logProbs.gather(2, labels.unsqueeze(2)).squeeze(-1).MoveToOuterDisposeScope();  // (B, T)
    }

    /// <summary>Σ(probs·mask)/Σmask per row → (B).</summary>
    public static Tensor SequenceMean(Tensor probs, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var lengths = mask.sum(1, keepdim: true);                            // (B, 1)
        return ((probs * mask).sum(1) / lengths.squeeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>(π_c − π_r) − (ref_c − ref_r) per pair → (B/2), before β.</summary>
    public static Tensor Logits(Tensor ref_probs, Tensor probs, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var r = SequenceMean(ref_probs, mask);
        var p = SequenceMean(probs, mask);
        var half = r.shape[0] / 2;
        var pi = p[..(int)half] - p[(int)half..];
        var rf = r[..(int)half] - r[(int)half..];
        return (pi - rf).MoveToOuterDisposeScope();
    }

    /// <summary>dpo_loss: mean of −logsigmoid(β · logits). MiniMind passes probs already multiplied by the mask
    /// and multiplies again here, which does no harm for a 0/1 mask.</summary>
    public static Tensor Loss(Tensor ref_probs, Tensor probs, Tensor mask, double beta)
    {
        using var scope = NewDisposeScope();
        var logits = Logits(ref_probs, probs, mask);
        using var b = beta.ToScalar();
        return (-F.logsigmoid(logits.mul(b))).mean().MoveToOuterDisposeScope();
    }
}
