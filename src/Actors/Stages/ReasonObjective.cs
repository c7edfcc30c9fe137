using MiniMind.Model;
using MiniMind.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>train_distill_reason.py: SFT on R1-format data where every target that is a piece of the
/// &lt;think&gt;/&lt;/think&gt;/&lt;answer&gt;/&lt;/answer&gt; tags weighs 10 (<see cref="ReasonLossMask"/>, applied when the
/// data is prepared), and the weighted CE sum is divided by the batch's 0/1 mask sum taken <b>before</b> the weights
/// (MiniMind's loss_mask_sum; the micro-batch's <see cref="DataLoader.MicroBatch.LossNormalizer"/>), plus the aux loss.</summary>
public sealed class ReasonObjective(TrainingSettings settings) : StageObjective(settings)
{
    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device)
    {
        var normalizer = batch.LossNormalizer
            ?? throw new InvalidDataException("reason micro-batch without a loss normaliser: the data was not prepared as reason data");
        var (x, y, weights) = Inputs(batch, device);
        return Loss(model.call(x), y, weights, normalizer, accumulation);
    }

    /// <summary>(Σ CE·weights / <paramref name="normalizer"/> + aux) / <paramref name="accumulation"/>.</summary>
    public static Tensor Loss(CausalLMOutput output, Tensor labels, Tensor weights, float normalizer, int accumulation = 1)
    {
        using var scope = NewDisposeScope();
        var ce = Losses.TokenCrossEntropy(output.logits, labels);                         // (B, T)
        using Scalar norm = normalizer.ToScalar(), steps = accumulation.ToScalar();   // explicit Scalar lifetimes: see Scalars
        var loss = (ce * weights).sum().div(norm).add(output.aux_loss, Scalars.One);
        if (accumulation != 1) loss = loss.div(steps);
        return loss.MoveToOuterDisposeScope();
    }
}
