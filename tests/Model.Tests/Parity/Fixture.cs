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
}
