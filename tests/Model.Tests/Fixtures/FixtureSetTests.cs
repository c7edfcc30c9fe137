using Xunit;

namespace MiniMind.Model.Tests.Fixtures;

public class FixtureSetTests
{
    [Fact]
    public void Raw_weights_match_manifest_stats_and_tie_lm_head_to_the_embedding()
    {
        var set = new FixtureSet("dense_tiny");
        var weights = set.RawWeights();
        Assert.Equal(21, weights.Count);
        var embed = weights["model.embed_tokens.weight"];
        Assert.True(embed.equal(weights["lm_head.weight"]).all().item<bool>());
        var sum = embed.to_type(TorchSharp.torch.ScalarType.Float64).sum().item<double>();
        Assert.Equal(87.57515352964401, sum, 1e-6);
    }

    [Fact]
    public void Tensor_files_load_with_manifest_shapes()
    {
        var set = new FixtureSet("dense_tiny");
        var ids = set.Tensor("input_ids");
        Assert.Equal(new long[] { 2, 16 }, ids.shape);
        Assert.Equal(75575L, ids.sum().item<long>());
    }
}
