using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

/// <summary>Our AdamW (explicit Scalar lifetimes) is TorchSharp's, bit for bit, and their state files are interchangeable.</summary>
public class AdamWTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Three_steps_match_TorchSharps_AdamW_bit_for_bit(bool amsgrad)
    {
        var set = new FixtureSet("dense_tiny");
        using var ours = Fixture.Model(set);
        using var theirs = Fixture.Model(set);
        var oursParams = ours.OptimizerParameters();
        var theirsParams = theirs.OptimizerParameters();
        using var a = new Model.Training.AdamW(oursParams, 5e-3, 0.9, 0.95, 1e-8, 0.01, amsgrad);
        using var b = optim.AdamW(theirsParams, lr: 5e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.01, amsgrad: amsgrad);
        for (var step = 1; step <= 3; step++)
        {
            using var scope = NewDisposeScope();
            var gen = new torch.Generator((ulong)(100 + step));
            for (var i = 0; i < oursParams.Count; i++)
            {
                var g = randn(oursParams[i].shape, generator: gen);
                oursParams[i].grad = g.clone().DetachFromDisposeScope();
                theirsParams[i].grad = g.clone().DetachFromDisposeScope();
            }
            a.Step();
            b.step();
        }
        for (var i = 0; i < oursParams.Count; i++)
            Assert.True(oursParams[i].eq(theirsParams[i]).all().item<bool>(), $"parameter {i} differs");
        Assert.Equal(Capture(b.save_state_dict), Capture(a.save_state_dict));
    }

    [Fact]
    public void A_state_saved_by_TorchSharps_AdamW_loads_into_ours_and_back()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        using var theirs = optim.AdamW(model.OptimizerParameters(), lr: 1e-3, weight_decay: 0.01);
        using var ours = new Model.Training.AdamW(model.OptimizerParameters(), 1e-3, 0.9, 0.999, 1e-8, 0.01);
        foreach (var p in model.OptimizerParameters()) p.grad = ones_like(p).DetachFromDisposeScope();
        theirs.step();
        var saved = Capture(theirs.save_state_dict);
        using (var r = new BinaryReader(new MemoryStream(saved))) ours.load_state_dict(r);
        Assert.Equal(saved, Capture(ours.save_state_dict));
    }

    static byte[] Capture(Action<BinaryWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms)) write(w);
        return ms.ToArray();
    }
}
