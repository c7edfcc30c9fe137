using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;

namespace MiniMind.Model.Tests.Checkpoints;

public class FixtureReadTests
{
    /// <summary>The sets whose manifest has a `weights` section (lora_dense_tiny has none; see the LoRA tests).</summary>
    public static TheoryData<string> Sets => new() { "dense_tiny", "moe_tiny", "dpo_dense_tiny" };

    [Theory]
    [MemberData(nameof(Sets))]
    public void Pth_fixture_reads_bit_exact_against_the_raw_safetensors_bytes(string set)
    {
        var fixture = new FixtureSet(set);
        var raw = fixture.RawWeights();
        var read = StateDictFile.Read(fixture.WeightsPath("pth"));
        AssertStateDictsBitEqual(raw, read);
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Safetensors_fixture_reads_bit_exact_and_omits_the_tied_head(string set)
    {
        var fixture = new FixtureSet(set);
        var raw = fixture.RawWeights();
        var read = StateDictFile.Read(fixture.WeightsPath("safetensors"));
        AssertStateDictsBitEqual(raw.Where(kv => kv.Key != TiedWeights.LmHead), read);
        Assert.False(read.ContainsKey(TiedWeights.LmHead));
    }

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    public void Lora_fixture_reads_bit_exact_against_its_bin_files(string kind)
    {
        var fixture = new FixtureSet("lora_dense_tiny");
        var path = Directory.GetFiles(fixture.Dir, "*." + kind).Single();
        var read = StateDictFile.Read(path);
        var expected = fixture.TensorNames.Where(n => n.StartsWith("lora/", StringComparison.Ordinal))
            .Select(n => KeyValuePair.Create(n["lora/".Length..], fixture.Tensor(n)));
        AssertStateDictsBitEqual(expected, read);
        Assert.Equal(8, read.Count);
    }

    [Fact]
    public void Tied_weight_in_a_pth_comes_back_as_one_shared_storage()
    {
        var read = StateDictFile.Read(new FixtureSet("dense_tiny").WeightsPath("pth"));
        Assert.True(TiedWeights.SameTensor(read[TiedWeights.Embedding], read[TiedWeights.LmHead]));
        Assert.False(TiedWeights.SameTensor(read[TiedWeights.Embedding], read["model.norm.weight"]));
    }
}
