using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using TorchSharp;
using Xunit;

namespace MiniMind.Actors.Tests.Stages;

public sealed class StageSettingsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("minimind-stage-settings-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    static MiniMindConfig Tiny => MiniMindConfig.Load(RepoPaths.Preset("tiny"));

    [Theory]
    [InlineData("pretrain", "pretrain_64.pth", "pretrain")]
    [InlineData("sft", "full_sft_64.pth", "sft")]
    [InlineData("dpo", "rlhf_64.pth", "dpo")]
    [InlineData("reason", "reason_64.pth", "reason")]
    [InlineData("distill", "full_dist_64.pth", "distill")]
    [InlineData("lora", "lora/lora_identity_64.pth", "lora-lora_identity")]
    public void Each_stage_writes_MiniMinds_output_name(string stage, string output, string runName)
    {
        var s = new TrainingSettings { Stage = stage, ConfigJson = Tiny.ToJson(), LoraName = "lora_identity", RunDir = dir };
        Assert.Equal(output, s.OutputFileName.Replace('\\', '/'));
        Assert.Equal(runName, s.RunName);
        Assert.Equal(Path.Combine(dir, "checkpoints", runName), s.CheckpointDir);
    }

    [Fact]
    public void Every_stage_but_pretrain_starts_from_the_previous_stages_output_as_MiniMind_does()
    {
        Assert.Null(TrainingStage.Pretrain.InitFrom);
        Assert.Equal("pretrain", TrainingStage.Sft.InitFrom);
        Assert.Equal("sft", TrainingStage.Lora.InitFrom);
        Assert.Equal("sft", TrainingStage.Dpo.InitFrom);
        Assert.Equal("dpo", TrainingStage.Reason.InitFrom);     // train_distill_reason.py: from_weight rlhf
        Assert.Equal("sft", TrainingStage.Distill.InitFrom);
    }

    [Fact]
    public void A_changed_teacher_hash_or_alpha_makes_a_different_run_and_the_difference_is_named()
    {
        var a = new TrainingSettings { Stage = "distill", ConfigJson = Tiny.ToJson(), FrozenModelPath = "/x/full_sft_64.pth", FrozenModelSha256 = "aa" };
        Assert.Equal(a.Identity(), (a with { FrozenModelPath = "/elsewhere/full_sft_64.pth", RunDir = "other", Threads = 2 }).Identity());
        Assert.Equal(["FrozenModelSha256"], a.IdentityDifferences(a with { FrozenModelSha256 = "bb" }));
        Assert.Equal(["Alpha", "Temperature"], a.IdentityDifferences(a with { Alpha = 0.5, Temperature = 2 }));
        // Settings journaled before these fields existed read back with the defaults, so old pretrain/SFT runs still match.
        var old = TrainingSettings.FromJson("""{"Stage":"sft","ConfigJson":"","BatchSize":16}""");
        Assert.Empty(old.IdentityDifferences(new TrainingSettings { Stage = "sft", BatchSize = 16 }));
    }

    [Fact]
    public void Teacher_config_is_inferred_from_the_files_shapes()
    {
        var path = Path.Combine(dir, "teacher.pth");
        torch.manual_seed(1);
        using (var m = new MiniMindForCausalLM(Tiny)) StateDictFile.Write(path, m, StateDictWriteOptions.MiniMindHalf);
        var small = MiniMindConfig.Load(RepoPaths.Preset("minimind2-small"));
        var moe = MiniMindConfig.Load(RepoPaths.Preset("minimind2-moe"));
        var (name, config) = TeacherConfig.Infer(path, [("minimind2-small", small), ("moe", moe), ("tiny", Tiny), ("tiny again", Tiny)]);
        Assert.Equal("tiny", name);
        Assert.Equal(Tiny, config);
        var shapes = TeacherConfig.Read(path);
        Assert.Equal(new TeacherConfig.Shapes(64, 2, 6400, Tiny.FfnSize, 64, 32, false, 0, 0), shapes);

        var e = Assert.Throws<InvalidDataException>(() => TeacherConfig.Infer(path, [("minimind2-small", small)]));
        Assert.Contains("teacher.pth", e.Message);
        Assert.Contains("--teacher-preset", e.Message);
    }
}
