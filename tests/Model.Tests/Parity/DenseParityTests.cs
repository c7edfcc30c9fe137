using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Parity;

public class DenseParityTests(ITestOutputHelper output)
{
    readonly FixtureSet set = new("dense_tiny");

    [Fact]
    public void State_dict_keys_equal_MiniMind_keys_in_order()
    {
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(set.ConfigPath));
        var expected = set.Manifest.GetProperty("weights").GetProperty("state_dict_keys_in_order").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(expected, model.state_dict().Keys.ToArray());
    }

    [Fact]
    public void Eval_logits_match()
    {
        using var model = Fixture.Model(set);
        model.eval();
        using var _ = no_grad();
        var out_ = model.call(set.Tensor("input_ids"));
        var d = Fixture.MaxAbs(out_.logits, set.Tensor("logits_eval"));
        output.WriteLine($"max|Δlogits_eval| = {d:E2}");
        Assert.True(d <= 1e-4);
    }
}
