using MiniMind.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Actors.Stages;

/// <summary>
/// train_distillation.py: the student (from the SFT output) learns from a frozen teacher on SFT data with
/// loss = α·CE + (1−α)·T²·KL(p_teacher,T ‖ p_student,T), where p_·,T = softmax(logits / T) over the vocabulary, the KL
/// is summed over the vocabulary and averaged over the target positions whose mask is 1 (kl_div "batchmean" on those
/// rows), CE is the masked mean with target id 0 ignored (ignore_index=0) plus the student's aux loss, and the teacher's
/// logits are cut to the student's vocabulary. MiniMind's script writes <c>softmax(…, hidden_size=-1)</c>, a keyword
/// torch does not have (a rename slip for <c>dim=-1</c>): the intended softmax over the last, vocabulary dimension is
/// what is computed here. Defaults are its train_epoch defaults, α = 0 and T = 1.
/// </summary>
public sealed class DistillObjective(TrainingSettings settings) : FrozenModelObjective(settings, "teacher")
{
    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device)
    {
        var teacher = Frozen;
        using var scope = NewDisposeScope();
        var (x, y, mask) = Inputs(batch, device);
        var output = model.call(x);
        Tensor teacherLogits;
        using (no_grad()) teacherLogits = teacher.call(x).logits;
        var loss = Loss(output.logits, teacherLogits, y, mask, output.aux_loss, Settings.Alpha, Settings.Temperature);
        using var steps = accumulation.ToScalar();                       // explicit Scalar lifetimes: see Scalars
        return loss.div(steps).MoveToOuterDisposeScope();
    }

    /// <summary>α·(masked CE + aux) + (1−α)·T²·KL over the masked positions; logits (B, T, V), teacher (B, T, V′ ≥ V).</summary>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, Tensor labels, Tensor mask, Tensor aux, double alpha, double temperature)
    {
        using var scope = NewDisposeScope();
        var V = studentLogits.shape[^1];
        var s = studentLogits.reshape(-1, V).to_type(ScalarType.Float32);                         // (B·T, V)
        var t = teacherLogits[.., .., ..(int)V].reshape(-1, V).to_type(ScalarType.Float32);      // (B·T, V)
        var y = labels.reshape(-1);
        var m = mask.reshape(-1);

        // Every number is an explicit Scalar that outlives its native call (see Scalars); the ops are those of
        // ce·m / Σm + aux, x / T, KL / N and α·ce + (1−α)·T²·KL, in the same order.
        using Scalar temp = temperature.ToScalar(), a = alpha.ToScalar(), klWeight = ((1 - alpha) * temperature * temperature).ToScalar();
        var ce = F.cross_entropy(s, y, reduction: nn.Reduction.None).masked_fill(y.eq(Scalars.Zero), Scalars.Zero);  // ignore_index = 0
        var ceLoss = ((ce * m).sum() / m.sum()).add(aux, Scalars.One);

        var rows = m.eq(Scalars.One).nonzero().squeeze(1);                                        // positions with mask 1
        var logStudent = F.log_softmax(s.index_select(0, rows).div(temp), 1);                    // (N, V)
        Tensor teacherProbs, logTeacher;
        using (no_grad())
        {
            var tt = t.index_select(0, rows).div(temp);
            teacherProbs = F.softmax(tt, 1);
            logTeacher = F.log_softmax(tt, 1);
        }
        using var n = rows.shape[0].ToScalar();
        var kl = (teacherProbs * (logTeacher - logStudent)).sum().div(n);                        // kl_div(batchmean)
        var loss = ceLoss.mul(a).add(kl.mul(klWeight), Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }
}
