using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Parity;

/// <summary>Builds models from fixture sets and measures differences.</summary>
static class Fixture
{
    public static MiniMindForCausalLM Model(FixtureSet set, Dictionary<string, Tensor>? weights = null)
    {
        torch.set_num_threads(1);
        var model = new MiniMindForCausalLM(MiniMindConfig.Load(set.ConfigPath));
        var w = weights ?? set.RawWeights();
        var (missing, unexpected) = model.load_state_dict(w, strict: true);
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        foreach (var t in w.Values) t.Dispose();
        return model;
    }

    public static double MaxAbs(Tensor a, Tensor b)
    {
        Assert.Equal(b.shape, a.shape);
        using var d = (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }

    public static bool SameRows(Tensor a, Tensor b) =>
        a.sort(-1).Values.eq(b.sort(-1).Values).all().item<bool>();

    /// <summary>One production step on the fixture batch, accumulation 1: <see cref="GradientStep.Backward"/> of
    /// MiniMind's pretrain loss (masked CE + aux) into a flat gradient, then <see cref="GradientStep.Apply"/> of it
    /// (clip, AdamW at <paramref name="lr"/>). Returns the loss, its aux part, the pre-clip norm and the flat gradient.</summary>
    public static (double Loss, double AuxLoss, double GradNorm, float[] Gradient) Step(GradientStep step, MiniMindForCausalLM model,
        Tensor ids, Tensor labels, Tensor mask, double lr = 5e-4)
    {
        var (loss, aux, gradient) = Backward(step, model, ids, labels, mask);
        return (loss, aux, step.Apply(gradient, lr), gradient);
    }

    /// <summary>The first half of <see cref="Step"/>: the grads stay set on the parameters. With <paramref name="chunkRows"/>
    /// the cross-entropy is the production workers' chunked one (<see cref="Losses.ChunkedMaskedCrossEntropy"/>, that many
    /// positions per chunk, 0 = its default), else the whole logits' <see cref="Losses.MaskedCrossEntropy"/>.</summary>
    public static (double Loss, double AuxLoss, float[] Gradient) Backward(GradientStep step, MiniMindForCausalLM model, Tensor ids, Tensor labels, Tensor mask,
        long? chunkRows = null)
    {
        var gradient = new float[step.Length];
        double aux = 0;
        var loss = step.Backward(model, () =>
        {
            if (chunkRows is { } rows)
            {
                var hidden = model.Model.call(ids);
                aux = hidden.aux_loss.item<float>();
                return Losses.ChunkedMaskedCrossEntropy(hidden.hidden, model.LmHead, labels, mask, rows) + hidden.aux_loss;
            }
            var output = model.call(ids);
            aux = output.aux_loss.item<float>();
            return Losses.MaskedCrossEntropy(output.logits, labels, mask) + output.aux_loss;
        }, gradient);
        return (loss, aux, gradient);
    }
}
