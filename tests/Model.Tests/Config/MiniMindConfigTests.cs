using MiniMind.Model.Tests.Fixtures;
using Xunit;

namespace MiniMind.Model.Tests.Config;

public class MiniMindConfigTests(ITestOutputHelper output)
{
    /// <summary>Unique parameters of a MiniMind model, from the shapes in README "State-dict keys" (tied weight once).</summary>
    static long ExpectedParameters(MiniMindConfig c)
    {
        long h = c.HiddenSize, kv = c.NumKeyValueHeads * c.HeadDim, ffn = 3L * h * c.FfnSize;
        var attention = 2 * h * h + 2 * h * kv;
        var mlp = c.UseMoe ? (c.NRoutedExperts + c.NSharedExperts) * ffn + c.NRoutedExperts * h : ffn;
        return c.VocabSize * h + c.NumHiddenLayers * (attention + mlp + 2 * h) + h;
    }

    // MiniMind's README (MiniMind2 series) lists MiniMind2-Small 26M, MiniMind2 104M and MiniMind2-MoE 145M;
    // the "tiny" preset is the dense_tiny fixture model (508,224 in the fixture README).
    [Theory]
    [InlineData("tiny", 508_224L)]
    [InlineData("minimind2-small", 25_829_888L)]   // "26M"
    [InlineData("minimind2", 104_030_976L)]        // "104M"
    [InlineData("minimind2-moe", 145_029_760L)]    // "145M"
    public void Preset_parameter_count_matches_MiniMind(string preset, long expected)
    {
        var config = MiniMindConfig.Load(preset);
        Assert.Equal(expected, ExpectedParameters(config));
        using var model = new MiniMindForCausalLM(config);
        Assert.Equal(expected, model.UniqueParameterCount());
        Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
        output.WriteLine($"{preset}: {expected:N0} parameters ({expected / 1e6:F2}M)");
    }

    [Fact]
    public void Defaults_are_MiniMind2_defaults_and_intermediate_size_is_computed()
    {
        var c = MiniMindConfig.FromJson("{}");
        Assert.Equal((512, 8, 8, 2, 6400, 32768), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.VocabSize, c.MaxPositionEmbeddings));
        Assert.Null(c.IntermediateSize);
        Assert.Equal(1408, c.FfnSize);
        Assert.Equal(2048, (c with { HiddenSize = 768 }).FfnSize);
        Assert.Equal(1728, (c with { HiddenSize = 640 }).FfnSize);
        Assert.Equal(192, (c with { HiddenSize = 64 }).FfnSize);
        Assert.Equal((1e-5, 1e6, true, false), (c.RmsNormEps, c.RopeTheta, c.FlashAttn, c.UseMoe));
        Assert.Equal((2, 4, 1, "softmax", 0.1, true, true), (c.NumExpertsPerTok, c.NRoutedExperts, c.NSharedExperts, c.ScoringFunc, c.AuxLossAlpha, c.SeqAux, c.NormTopkProb));
    }

    [Fact]
    public void Fixture_config_json_loads_with_every_field()
    {
        var c = MiniMindConfig.Load(new FixtureSet("moe_tiny").ConfigPath);
        Assert.True(c.UseMoe);
        Assert.Equal(192, c.IntermediateSize);
        Assert.False(c.FlashAttn);
        Assert.Equal(c, MiniMindConfig.FromJson(c.ToJson()));
    }

    [Fact]
    public void Unknown_field_is_an_error_naming_the_file_and_the_field()
    {
        var path = Path.Combine(Path.GetTempPath(), $"minimind-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "hidden_size": 64, "hiden_layers": 2 }""");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => MiniMindConfig.Load(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("'hiden_layers'", e.Message, StringComparison.Ordinal);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Wrong_type_is_an_error_naming_the_file_and_the_field()
    {
        var path = Path.Combine(Path.GetTempPath(), $"minimind-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "hidden_size": "64" }""");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => MiniMindConfig.Load(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("'hidden_size'", e.Message, StringComparison.Ordinal);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Inconsistent_heads_are_rejected_and_unknown_presets_list_the_known_ones()
    {
        var e = Assert.Throws<InvalidDataException>(() => MiniMindConfig.FromJson("""{ "num_attention_heads": 8, "num_key_value_heads": 3 }""", "x.json"));
        Assert.Contains("'num_key_value_heads'", e.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<FileNotFoundException>(() => MiniMindConfig.Load("no-such-preset"));
        Assert.Contains("minimind2-small", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Presets_are_copied_next_to_the_model_assembly()
    {
        var dir = Path.GetDirectoryName(typeof(MiniMindConfig).Assembly.Location)!;
        foreach (var name in new[] { "tiny", "minimind2-small", "minimind2", "minimind2-moe" })
            Assert.True(File.Exists(Path.Combine(dir, "config", "presets", name + ".json")), name);
    }
}
