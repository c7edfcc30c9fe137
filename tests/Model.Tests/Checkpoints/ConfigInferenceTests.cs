using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;

namespace MiniMind.Model.Tests.Checkpoints;

public class ConfigInferenceTests
{
    [Theory]
    [InlineData("dense_tiny")]
    [InlineData("moe_tiny")]
    public void The_fixture_configs_are_recovered_from_the_weights(string set)
    {
        var dir = Path.Combine(RepoPaths.ModelFixtures, set);
        var expected = MiniMindConfig.Load(Path.Combine(dir, "config.json"));
        var (config, from) = ConfigInference.FromCheckpoint(Path.Combine(dir, set + ".pth"));
        Assert.Equal("preset tiny", from);
        Assert.Equal(expected with { IntermediateSize = null }, config with { IntermediateSize = null });
        Assert.Equal(expected.FfnSize, config.FfnSize);
    }

    [Fact]
    public void Without_a_matching_preset_heads_are_minimind_defaults_and_kv_heads_follow_k_proj()
    {
        using var dir = new TempDir();
        var config = new MiniMindConfig { HiddenSize = 96, NumHiddenLayers = 3, NumAttentionHeads = 8, NumKeyValueHeads = 4, VocabSize = 300, IntermediateSize = 160 };
        torch.manual_seed(3);
        using (var model = new MiniMindForCausalLM(config))
            StateDictFile.Write(dir.File("w.pth"), model, StateDictWriteOptions.MiniMindHalf);
        var (inferred, from) = ConfigInference.FromCheckpoint(dir.File("w.pth"));
        Assert.Equal("MiniMind defaults", from);
        Assert.Equal(config, inferred);
    }

    [Fact]
    public void Stage_files_are_found_by_mode_and_missing_ones_are_reported_with_the_directory_listing()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("full_sft_512.pth"), "");
        File.WriteAllText(dir.File("full_sft_768.pth"), "");
        File.WriteAllText(dir.File("rlhf_512_moe.pth"), "");
        Assert.Equal(dir.File("rlhf_512_moe.pth"), WeightStage.FromModelMode(2).Find(dir.Path, null));
        Assert.Equal(dir.File("rlhf_512_moe.pth"), WeightStage.Parse("dpo").Find(dir.Path, null));
        Assert.Equal(dir.File("full_sft_768.pth"), WeightStage.Sft.Find(dir.Path, new MiniMindConfig { HiddenSize = 768 }));
        var several = Assert.Throws<ArgumentException>(() => WeightStage.Sft.Find(dir.Path, null));
        Assert.Contains("full_sft_512.pth, full_sft_768.pth", several.Message);
        var missing = Assert.Throws<FileNotFoundException>(() => WeightStage.Reason.Find(dir.Path, null));
        Assert.Contains("reason_<hidden>[_moe].pth", missing.Message);
        Assert.Contains("full_sft_512.pth, full_sft_768.pth, rlhf_512_moe.pth", missing.Message);
        Assert.Equal("full_dist_640_moe.pth", WeightStage.Parse("distill").FileName(new MiniMindConfig { HiddenSize = 640, UseMoe = true }));
        Assert.Throws<ArgumentException>(() => WeightStage.Parse("ppo"));
    }
}
