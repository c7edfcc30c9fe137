using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests;

public class AttentionTests(ITestOutputHelper output)
{
    readonly FixtureSet dense = new("dense_tiny");

    MiniMindForCausalLM Model(bool flash)
    {
        var model = new MiniMindForCausalLM(MiniMindConfig.Load(dense.ConfigPath) with { FlashAttn = flash });
        model.load_state_dict(dense.RawWeights());
        model.eval();
        return model;
    }

    [Fact]
    public void Flash_path_matches_the_explicit_path()
    {
        using var explicit_ = Model(flash: false);
        using var flash = Model(flash: true);
        using var _ = no_grad();
        var ids = dense.Tensor("input_ids");
        var d = Fixture.MaxAbs(flash.call(ids).logits, explicit_.call(ids).logits);
        output.WriteLine($"max|Δlogits| sdpa vs explicit = {d:E2}");
        Assert.True(d <= 1e-5);
    }

    [Fact]
    public void A_multi_token_chunk_after_a_cache_equals_the_full_forward()
    {
        // MiniMind itself only supports prefill and 1-token steps (its causal mask covers the new tokens only); the offset causal mask generalises it.
        using var model = Model(flash: false);
        using var _ = no_grad();
        var ids = dense.Tensor("input_ids");
        var full = model.call(ids).logits;
        var first = model.forward(ids[.., ..6], null, null, use_cache: true);
        var rest = model.forward(ids[.., 6..], null, first.past_key_values, use_cache: true);
        Assert.Equal(16, rest.past_key_values!.Length);
        var d = Fixture.MaxAbs(rest.logits, full[.., 6..]);
        output.WriteLine($"max|Δlogits| chunked cache vs full = {d:E2}");
        Assert.True(d <= 1e-5);
    }

    [Fact]
    public void Padding_mask_hides_padded_keys()
    {
        using var model = Model(flash: true);
        using var _ = no_grad();
        var ids = dense.Tensor("input_ids");
        var plain = model.call(ids).logits;
        var allOnes = model.forward(ids, ones_like(ids), null, false).logits;
        Assert.True(Fixture.MaxAbs(allOnes, plain) <= 1e-5);

        // Right padding: the last 4 positions of row 1 are padding; earlier positions cannot see them anyway.
        var mask = ones_like(ids);
        mask[1, 12..] = tensor(0L);
        var padded = model.forward(ids, mask, null, false).logits;
        Assert.True(Fixture.MaxAbs(padded[.., ..12], plain[.., ..12]) <= 1e-5);

        // Masking a key in the middle changes the positions after it, not those before it.
        var hole = ones_like(ids);
        hole[0, 3] = tensor(0L);
        var holed = model.forward(ids, hole, null, false).logits;
        Assert.True(Fixture.MaxAbs(holed[0, ..3], plain[0, ..3]) <= 1e-5);
        Assert.True(Fixture.MaxAbs(holed[0, 4..], plain[0, 4..]) > 1e-3);
        Assert.True(Fixture.MaxAbs(holed[1], plain[1]) <= 1e-5);
    }
}
