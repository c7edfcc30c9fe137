using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;

namespace MiniMind.Model.Tests.Generation;

public class GeneratorTests
{
    readonly FixtureSet dense = new("dense_tiny");

    [Fact]
    public void Seeded_sampling_is_reproducible_and_streaming_yields_the_same_tokens()
    {
        using var model = Fixture.Model(dense);
        var prompt = dense.Tensor("gen_prompt").data<long>().ToArray();
        var options = new GenerationOptions { MaxNewTokens = 12, Greedy = false, Temperature = 1.0, TopP = 0.9, Seed = 7, EosTokenId = null };
        var a = Generator.Generate(model, prompt, options);
        var b = Generator.Stream(model, prompt, options).ToArray();
        Assert.Equal(12, a.Length);
        Assert.Equal(a, b);
        Assert.Equal(a, Generator.Generate(model, prompt, options with { UseCache = false }));
    }

    [Fact]
    public void Generation_stops_after_eos_and_at_max_new_tokens()
    {
        using var model = Fixture.Model(dense);
        var prompt = dense.Tensor("gen_prompt").data<long>().ToArray();
        var greedy = Generator.Generate(model, prompt, 8, eosTokenId: null);
        var stopAt = greedy[2];
        var stopped = Generator.Generate(model, prompt, 8, eosTokenId: stopAt);
        Assert.Equal(greedy.Take(Array.IndexOf(greedy, stopAt) + 1), stopped);
        Assert.Equal(3, Generator.Generate(model, prompt, 3, eosTokenId: null).Length);
    }

    [Fact]
    public void Tiny_top_p_is_greedy()
    {
        var logits = new float[] { 0.1f, 2.5f, 2.4f, -1f };
        var random = new Random(1);
        for (var i = 0; i < 20; i++) Assert.Equal(1, Sampling.TopP(logits, 1.0, 1e-6, random));
        Assert.Equal(1, Sampling.Argmax(logits));
    }

    [Fact]
    public void Decoding_and_training_steps_do_not_leak_tensors()
    {
        using var model = Fixture.Model(dense);
        var prompt = dense.Tensor("gen_prompt").data<long>().ToArray();
        var (ids, labels, mask) = (dense.Tensor("input_ids"), dense.Tensor("labels"), dense.Tensor("loss_mask"));
        using var step = GradientStep.For(model);
        Fixture.Step(step, model, ids, labels, mask);                           // creates the AdamW state and the grads
        Generator.Generate(model, prompt, 4);
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++)
        {
            Fixture.Step(step, model, ids, labels, mask);
            Generator.Generate(model, prompt, 4);
        }
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        using var probe = torch.ones(1);                                        // the counter does see a live tensor
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
