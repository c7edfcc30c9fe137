using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

public class StateDictLoaderTests
{
    static readonly FixtureSet Dense = new("dense_tiny");

    static void AssertModuleHolds(TinyMiniMind module, Dictionary<string, Tensor> expected)
    {
        var sd = module.state_dict();
        Assert.Equal(expected.Keys.Order(), sd.Keys.Order());
        foreach (var (k, v) in expected) AssertBitEqual(v, sd[k], k);
        Assert.True(TiedWeights.SameTensor(sd[TiedWeights.Embedding], sd[TiedWeights.LmHead]), "the tie is broken");
    }

    [Theory]
    [InlineData("pth")]
    [InlineData("safetensors")]
    public void Loads_a_fixture_into_the_module_keeping_its_parameter_objects_and_tie(string kind)
    {
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var before = module.parameters().Select(p => p.Handle).ToList();

        var result = StateDictLoader.LoadFile(module, Dense.WeightsPath(kind));

        Assert.Equal(before, module.parameters().Select(p => p.Handle).ToList());
        Assert.Equal(before.Count, module.parameters().Count()); // the tied weight is still one parameter
        AssertModuleHolds(module, Dense.RawWeights());
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        if (kind == "safetensors") Assert.Contains(result.Notes, n => n.Contains("re-tied", StringComparison.Ordinal));
    }

    [Fact]
    public void An_optimizer_built_before_loading_still_updates_the_loaded_parameters()
    {
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var opt = optim.SGD(module.parameters(), 0.5);
        StateDictLoader.LoadFile(module, Dense.WeightsPath("safetensors"));
        var loaded = module.lm_head.weight!.detach().clone();

        opt.zero_grad();
        module.lm_head.weight!.sum().backward();
        opt.step();

        using var expected = loaded - 0.5;
        AssertBitEqual(expected, module.model.embed_tokens.weight!.detach(), "embedding after one SGD step");
    }

    [Fact]
    public void Float16_source_is_converted_to_the_module_dtype()
    {
        var raw = Dense.RawWeights();
        var half = raw.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float16));
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        StateDictLoader.LoadInto(module, half, "half.pth");
        AssertModuleHolds(module, half.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32)));
        Assert.Equal(ScalarType.Float32, module.lm_head.weight!.dtype);
    }

    [Fact]
    public void Module_that_does_not_tie_gets_lm_head_from_the_embedding_when_the_file_omits_it()
    {
        using var module = new TinyMiniMind(TinyConfig.DenseTiny, tie: false);
        var result = StateDictLoader.LoadFile(module, Dense.WeightsPath("safetensors"));
        var raw = Dense.RawWeights();
        AssertBitEqual(raw[TiedWeights.Embedding], module.lm_head.weight!.detach(), TiedWeights.LmHead);
        Assert.Contains(result.Notes, n => n.Contains("set from", StringComparison.Ordinal));
    }

    [Fact]
    public void Mismatch_lists_every_missing_unexpected_and_misshaped_key_and_the_file_and_changes_nothing()
    {
        var source = Dense.RawWeights();
        source.Remove("model.norm.weight");
        source.Remove("model.layers.1.mlp.up_proj.weight");
        source["model.layers.2.mlp.gate_proj.weight"] = torch.zeros(192, 64);
        source["model.layers.0.self_attn.q_proj.weight"] = torch.zeros(128, 64);
        source["model.layers.1.self_attn.k_proj.weight"] = torch.zeros(16, 64);
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var untouched = module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(module, source, "/tmp/some/ckpt.pth"));

        Assert.Contains("/tmp/some/ckpt.pth", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.norm.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.2.mlp.gate_proj.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight: checkpoint [128, 64] vs model [64, 64]", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.layers.1.self_attn.k_proj.weight: checkpoint [16, 64] vs model [32, 64]", e.Message, StringComparison.Ordinal);
        Assert.Contains("HINT", e.Message, StringComparison.Ordinal);
        Assert.Equal(["model.layers.1.mlp.up_proj.weight", "model.norm.weight"], e.MissingKeys);
        Assert.Equal(["model.layers.2.mlp.gate_proj.weight"], e.UnexpectedKeys);
        Assert.Equal(2, e.ShapeMismatches.Count);
        foreach (var (k, v) in untouched) AssertBitEqual(v, module.state_dict()[k], k + " (must be unchanged after a failed load)");
    }

    [Fact]
    public void Non_strict_load_reports_missing_and_unexpected_keys_but_loads_the_rest()
    {
        var source = Dense.RawWeights();
        source.Remove("model.norm.weight");
        source["extra.weight"] = torch.zeros(3);
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var result = StateDictLoader.LoadInto(module, source, "x.pth", new StateDictLoadOptions { Strict = false });
        Assert.Equal(["model.norm.weight"], result.MissingKeys);
        Assert.Equal(["extra.weight"], result.UnexpectedKeys);
        AssertBitEqual(source["model.layers.0.self_attn.q_proj.weight"], module.state_dict()["model.layers.0.self_attn.q_proj.weight"], "q_proj");
    }

    [Fact]
    public void Shape_mismatch_fails_even_when_not_strict()
    {
        var source = Dense.RawWeights();
        source["model.norm.weight"] = torch.zeros(65);
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(module, source, "x.pth", new StateDictLoadOptions { Strict = false }));
        Assert.Contains("model.norm.weight: checkpoint [65] vs model [64]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Differing_tied_copies_fail_unless_allowed_and_then_lm_head_wins_as_in_pytorch()
    {
        var source = Dense.RawWeights();
        source[TiedWeights.LmHead] = source[TiedWeights.Embedding] + 1f;
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);

        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadInto(module, source, "two-heads.pth"));
        Assert.Contains("two-heads.pth", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.embed_tokens.weight vs lm_head.weight: max |diff| 1", e.Message, StringComparison.Ordinal);

        var result = StateDictLoader.LoadInto(module, source, "two-heads.pth", new StateDictLoadOptions { AllowDifferingTiedCopies = true });
        AssertBitEqual(source[TiedWeights.LmHead], module.model.embed_tokens.weight!.detach(), "the tied weight");
        Assert.Contains(result.Notes, n => n.Contains("loaded lm_head.weight", StringComparison.Ordinal));
    }

    [Fact]
    public void Lora_only_file_into_a_full_model_fails_listing_everything()
    {
        var lora = new FixtureSet("lora_dense_tiny");
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        var path = Directory.GetFiles(lora.Dir, "*.pth").Single();
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.LoadFile(module, path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal(8, e.UnexpectedKeys.Count);
        Assert.Equal(module.state_dict().Count, e.MissingKeys.Count);
    }
}
