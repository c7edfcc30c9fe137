using Xunit;

namespace MiniMind.Model.Tests.Config;

public class HfConfigTests
{
    [Fact]
    public void A_config_saved_by_transformers_loads_and_its_packaging_keys_are_not_written_back()
    {
        var json = """
        {"architectures": ["MiniMindForCausalLM"], "auto_map": {"AutoModelForCausalLM": "model_minimind.MiniMindForCausalLM"},
         "torch_dtype": "float32", "transformers_version": "4.48.0", "use_cache": true,
         "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
        """;
        var config = MiniMindConfig.FromJson(json, "hf.json");
        Assert.Equal(64, config.HiddenSize);
        Assert.Equal(192, config.FfnSize);
        var back = config.ToJson();
        Assert.DoesNotContain("architectures", back);
        Assert.DoesNotContain("transformers_version", back);
        Assert.Equal(config, MiniMindConfig.FromJson(back, "back.json"));
    }

    [Fact]
    public void Other_unknown_keys_are_still_rejected_by_name()
    {
        var e = Assert.Throws<InvalidDataException>(() => MiniMindConfig.FromJson("""{"hidden_size": 64, "rope_scaling": {"type": "yarn"}}""", "x.json"));
        Assert.Contains("x.json", e.Message);
        Assert.Contains("rope_scaling", e.Message);
    }
}
