using MiniMind.Actors.Stages;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Actors.Tests.Stages;

public class DistillObjectiveTests
{
    /// <summary>The loss by hand, in doubles: α·(Σ CE·m / Σ m) + (1−α)·T²·mean over mask-1 positions of
    /// Σ_v p_t(v)·(log p_t(v) − log p_s(v)), p = softmax(logits / T) over the student's vocabulary.</summary>
    static double ByHand(float[,] s, float[,] t, int[] y, float[] m, double alpha, double temp)
    {
        int n = y.Length, v = s.GetLength(1);
        double[] LogSoftmax(float[,] a, int row, double scale)
        {
            var z = Enumerable.Range(0, v).Select(j => a[row, j] / scale).ToArray();
            var max = z.Max();
            var lse = max + Math.Log(z.Sum(x => Math.Exp(x - max)));
            return z.Select(x => x - lse).ToArray();
        }
        double ceSum = 0, kl = 0;
        var rows = 0;
        for (var i = 0; i < n; i++)
        {
            var ce = y[i] == 0 ? 0 : -LogSoftmax(s, i, 1)[y[i]];                      // ignore_index = 0
            ceSum += ce * m[i];
            if (m[i] != 1) continue;
            rows++;
            var ls = LogSoftmax(s, i, temp);
            var lt = LogSoftmax(t, i, temp);
            for (var j = 0; j < v; j++) kl += Math.Exp(lt[j]) * (lt[j] - ls[j]);
        }
        return alpha * (ceSum / m.Sum()) + (1 - alpha) * temp * temp * kl / rows;
    }

    [Fact]
    public void Distill_loss_is_alpha_CE_plus_one_minus_alpha_T_squared_KL_over_the_masked_positions()
    {
        const int B = 2, T = 3, V = 5, TeacherV = 7;
        var rng = new Random(7);
        var student = new float[B * T, V];
        var teacher = new float[B * T, TeacherV];
        for (var i = 0; i < B * T; i++)
        {
            for (var j = 0; j < V; j++) student[i, j] = (float)(rng.NextDouble() * 4 - 2);
            for (var j = 0; j < TeacherV; j++) teacher[i, j] = (float)(rng.NextDouble() * 4 - 2);
        }
        int[] y = [3, 1, 0, 4, 2, 2];                 // a masked-in target 0: CE ignores it, KL does not
        float[] mask = [1, 1, 1, 0, 1, 0];
        var teacherCut = new float[B * T, V];
        for (var i = 0; i < B * T; i++) for (var j = 0; j < V; j++) teacherCut[i, j] = teacher[i, j];

        using var s = torch.tensor(student.Cast<float>().ToArray()).view(B, T, V);
        using var t = torch.tensor(teacher.Cast<float>().ToArray()).view(B, T, TeacherV);
        using var labels = torch.tensor(y.Select(v => (long)v).ToArray()).view(B, T);
        using var m = torch.tensor(mask).view(B, T);
        using var aux = torch.tensor(0f);
        foreach (var (alpha, temp) in new[] { (0.0, 1.0), (0.3, 2.0), (1.0, 1.5), (0.5, 0.7) })
        {
            using var loss = DistillObjective.Loss(s, t, labels, m, aux, alpha, temp);
            var expected = ByHand(student, teacherCut, y, mask, alpha, temp);
            Assert.True(Math.Abs(loss.item<float>() - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"α {alpha}, T {temp}: {loss.item<float>()} vs {expected}");
        }
        // With α = 0 and the teacher equal to the student, the loss is 0 (KL of a distribution to itself).
        using var same = DistillObjective.Loss(s, s, labels, m, aux, 0, 1.5);
        Assert.True(Math.Abs(same.item<float>()) < 1e-6);
    }
}
