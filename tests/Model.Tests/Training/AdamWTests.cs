using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using MiniMind.Model.Training;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

/// <summary>Our AdamW (explicit Scalar lifetimes, the fused update) is TorchSharp's, bit for bit, and their state files
/// are interchangeable.</summary>
public class AdamWTests
{
    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]                                                  // amsgrad always takes the op sequence
    public void Three_steps_match_TorchSharps_AdamW_bit_for_bit(bool amsgrad, bool fused)
    {
        var set = new FixtureSet("dense_tiny");
        using var ours = Fixture.Model(set);
        using var theirs = Fixture.Model(set);
        var oursParams = ours.OptimizerParameters();
        var theirsParams = theirs.OptimizerParameters();
        using var a = new Model.Training.AdamW(oursParams, 5e-3, 0.9, 0.95, 1e-8, 0.01, amsgrad) { Fused = fused };
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
            if (fused) Assert.True(AdamWKernel.Fits(oursParams[0], oursParams[0].grad!, oursParams[0], oursParams[0]));
            a.Step();
            b.step();
        }
        for (var i = 0; i < oursParams.Count; i++)
            Assert.True(oursParams[i].eq(theirsParams[i]).all().item<bool>(), $"parameter {i} differs");
        Assert.Equal(Capture(b.save_state_dict), Capture(a.save_state_dict));
    }

    /// <summary>The fused update against TorchSharp's op sequence on one large tensor whose length is no multiple of the
    /// vector width (vector body and scalar tail), split into many chunks over 1 and 3 threads: the same bits.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Fused_update_equals_the_op_sequence_bit_for_bit_across_chunks_and_threads(int threads)
    {
        const long n = 300_007;
        var gen = new torch.Generator(11);
        using var p0 = randn(n, generator: gen);
        using var g = randn(n, generator: gen);
        using var m0 = randn(n, generator: gen).mul_(Scalars.Two);
        using var v0 = rand(n, generator: gen);
        double lr = 3e-3, wd = 0.01, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
        const int step = 4;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);

        using var p = p0.clone();
        using var m = m0.clone();
        using var v = v0.clone();
        using (Scalar decay = (1 - lr * wd).ToScalar(), b1 = beta1.ToScalar(), b2 = beta2.ToScalar(), omb1 = (1 - beta1).ToScalar(),
               omb2 = (1 - beta2).ToScalar(), e = eps.ToScalar(), sq = Math.Sqrt(bc2).ToScalar(), ms = (-(lr / bc1)).ToScalar())
        {
            p.mul_(decay);
            m.mul_(b1).add_(g, omb1);
            v.mul_(b2).addcmul_(g, g, omb2);
            using var denom = v.sqrt().div(sq).add_(e, Scalars.One);
            p.addcdiv_(m, denom, ms);
        }

        using var q = p0.clone();
        using var mq = m0.clone();
        using var vq = v0.clone();
        AdamWKernel.Update(q, g, mq, vq, new AdamWKernel.Coefficients((float)(1 - lr * wd), (float)beta1, (float)(1 - beta1), (float)beta2,
            (float)(1 - beta2), (float)Math.Sqrt(bc2), (float)eps, (float)(-(lr / bc1))), threads);

        Assert.True(q.eq(p).all().item<bool>(), $"param: {q.ne(p).sum().item<long>()} of {n} elements differ, exp_avg {mq.ne(m).sum().item<long>()}, exp_avg_sq {vq.ne(v).sum().item<long>()}");
        Assert.True(mq.eq(m).all().item<bool>(), $"exp_avg: {mq.ne(m).sum().item<long>()} differ");
        Assert.True(vq.eq(v).all().item<bool>(), $"exp_avg_sq: {vq.ne(v).sum().item<long>()} differ");
        Assert.False(q.eq(p0).all().item<bool>());                            // it did update
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
