using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Generation;

/// <summary>The fast single-token decode path against the general forward and the PyTorch fixtures, dense and MoE.</summary>
public class SingleTokenDecoderTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("dense_tiny")]
    [InlineData("moe_tiny")]
    public void Step_logits_match_the_full_forward_and_tokens_match_gen_tokens_cache(string setName)
    {
        var set = new FixtureSet(setName);
        using var model = Fixture.Model(set);
        model.eval();
        var prompt = set.Tensor("gen_prompt").data<long>().ToArray();
        var expected = set.Tensor("gen_tokens_cache").data<long>().ToArray();

        using var decoder = new IncrementalDecoder(model, useCache: true, capacity: prompt.Length + expected.Length);
        Assert.True(decoder.FastDecode);
        var logits = decoder.Feed(prompt);
        var tokens = new List<long>();
        double worst = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            var next = Sampling.Argmax(logits);
            tokens.Add(next);
            if (i + 1 == expected.Length) break;
            logits = decoder.Feed([next]);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var all = prompt.Concat(tokens).ToArray();
            var full = model.call(tensor(all, [1, all.Length]));                 // no cache: the whole sequence
            worst = Math.Max(worst, Fixture.MaxAbs(tensor(logits), full.logits[0, -1]));
        }
        output.WriteLine($"{setName}: max|Δ step logits vs full forward| = {worst:E2}; tokens {string.Join(" ", tokens)}");
        Assert.True(worst <= 1e-4, $"{worst:E3}");
        Assert.Equal(expected, tokens);
    }

    [Fact]
    public void Decoding_writes_the_preallocated_cache_in_place()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        var prompt = set.Tensor("gen_prompt").data<long>().ToArray();
        using var decoder = new IncrementalDecoder(model, useCache: true, capacity: prompt.Length + 10);
        var logits = decoder.Feed(prompt);
        logits = decoder.Feed([Sampling.Argmax(logits)]);                     // the fast decoder exists from here
        var fast = typeof(IncrementalDecoder).GetField("fast", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .GetValue(decoder) as SingleTokenDecoder;
        Assert.NotNull(fast);
        var buffers = fast!.KeyBuffers.ToArray();
        var capacity = fast.Capacity;
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 8; i++) logits = decoder.Feed([Sampling.Argmax(logits)]);
        Assert.Equal(capacity, fast.Capacity);
        Assert.Equal(prompt.Length + 9, fast.Length);
        for (var l = 0; l < buffers.Length; l++) Assert.Same(buffers[l], fast.KeyBuffers[l]);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Cache_grows_when_the_capacity_is_exceeded_and_tokens_stay_the_same()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        var prompt = set.Tensor("gen_prompt").data<long>().ToArray();
        var expected = set.Tensor("gen_tokens_cache").data<long>().ToArray();
        using var decoder = new IncrementalDecoder(model, useCache: true, capacity: 1);
        var logits = decoder.Feed(prompt);
        var tokens = new List<long>();
        for (var i = 0; i < expected.Length; i++)
        {
            tokens.Add(Sampling.Argmax(logits));
            if (i + 1 < expected.Length) logits = decoder.Feed([tokens[^1]]);
        }
        Assert.Equal(expected, tokens);
    }
}
