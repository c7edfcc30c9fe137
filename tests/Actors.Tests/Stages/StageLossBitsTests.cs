using MiniMind.Actors.Stages;
using MiniMind.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Actors.Tests.Stages;

/// <summary>The stage losses with explicit Scalars are bit for bit the operator forms they replaced (<c>a + b</c>,
/// <c>x / T</c>, <c>α · ce</c>: TorchSharp's operators, each with its implicit Scalar), which stay here as the reference.</summary>
public class StageLossBitsTests
{
    static int Bits(Tensor t) => BitConverter.SingleToInt32Bits(t.item<float>());

    [Fact]
    public void Distill_loss_is_bit_for_bit_the_operator_form()
    {
        using var scope = NewDisposeScope();
        var gen = new torch.Generator(11);
        var s = randn(2, 3, 5, generator: gen);
        var t = randn(2, 3, 7, generator: gen);
        var labels = tensor(new long[] { 3, 1, 0, 4, 2, 2 }).view(2, 3);
        var m = tensor(new float[] { 1, 1, 1, 0, 1, 0 }).view(2, 3);
        var aux = tensor(0.25f);
        foreach (var (alpha, temp) in new[] { (0.3, 2.0), (0.5, 0.7), (1.0, 1.5) })
            Assert.Equal(Bits(OperatorDistill(s, t, labels, m, aux, alpha, temp)), Bits(DistillObjective.Loss(s, t, labels, m, aux, alpha, temp)));
    }

    [Fact]
    public void Reason_loss_is_bit_for_bit_the_operator_form()
    {
        using var scope = NewDisposeScope();
        var gen = new torch.Generator(12);
        var logits = randn(2, 4, 9, generator: gen);
        var labels = randint(0, 9, [2, 4], generator: gen);
        var weights = rand(2, 4, generator: gen);
        var output = new CausalLMOutput(logits, tensor(0.125f), null, logits);
        foreach (var accumulation in new[] { 1, 3 })
        {
            var ce = Losses.TokenCrossEntropy(logits, labels);
            var expected = (ce * weights).sum() / 2.5f + output.aux_loss;
            if (accumulation != 1) expected = expected / accumulation;
            Assert.Equal(Bits(expected), Bits(ReasonObjective.Loss(output, labels, weights, 2.5f, accumulation)));
        }
    }

    /// <summary>DistillObjective.Loss as it was written with operators.</summary>
    static Tensor OperatorDistill(Tensor studentLogits, Tensor teacherLogits, Tensor labels, Tensor mask, Tensor aux, double alpha, double temperature)
    {
        var V = studentLogits.shape[^1];
        var s = studentLogits.reshape(-1, V).to_type(ScalarType.Float32);
        var t = teacherLogits[.., .., ..(int)V].reshape(-1, V).to_type(ScalarType.Float32);
        var y = labels.reshape(-1);
        var m = mask.reshape(-1);
        var ce = F.cross_entropy(s, y, reduction: nn.Reduction.None).masked_fill(y.eq(0), 0);
        var ceLoss = (ce * m).sum() / m.sum() + aux;
        var rows = m.eq(1).nonzero().squeeze(1);
        var logStudent = F.log_softmax(s.index_select(0, rows) / temperature, 1);
        Tensor teacherProbs, logTeacher;
        using (no_grad())
        {
            var tt = t.index_select(0, rows) / temperature;
            teacherProbs = F.softmax(tt, 1);
            logTeacher = F.log_softmax(tt, 1);
        }
        var kl = (teacherProbs * (logTeacher - logStudent)).sum() / rows.shape[0];
        return alpha * ceLoss + (1 - alpha) * temperature * temperature * kl;
    }
}
