using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

public class GradientAggregationTests
{
    [Fact]
    public async Task Steps_through_the_gradient_aggregator_give_the_same_weights_as_local_accumulation()
    {
        var local = TestRuns.TempRunDir("grad-local");
        var aggregated = TestRuns.TempRunDir("grad-agg");
        var a = await TestRuns.RunAsync(TestRuns.Tiny(local, 4, 4));
        var b = await TestRuns.RunAsync(TestRuns.Tiny(aggregated, 4, 4) with { AggregateGradients = true });
        Assert.Equal(Outcome.Completed, a.Finished.Outcome);
        Assert.Equal(Outcome.Completed, b.Finished.Outcome);
        Assert.Equal(TestRuns.FinalCheckpoint(local, 4), TestRuns.FinalCheckpoint(aggregated, 4));
        Directory.Delete(local, true);
        Directory.Delete(aggregated, true);
    }
    /// <summary>The later stages take the aggregated path too: LoRA ships only the adapters' gradients, DPO carries its
    /// pairs and frozen reference through it unchanged.</summary>
    [Theory]
    [InlineData("lora", "lora_medical.jsonl")]
    [InlineData("dpo", "dpo.jsonl")]
    public async Task Later_stages_through_the_gradient_aggregator_give_the_same_weights_as_local_accumulation(string stage, string data)
    {
        var local = TestRuns.TempRunDir($"grad-{stage}-local");
        var aggregated = TestRuns.TempRunDir($"grad-{stage}-agg");
        MiniMind.Actors.TrainingSettings Settings(string dir)
        {
            var sft = Path.Combine(dir, "full_sft_64.pth");
            TestRuns.CopyTinyWeights(sft);
            return TestRuns.Tiny(dir, 4, 4) with
            {
                Stage = stage, DataPath = Path.Combine(RepoPaths.Root, "dataset", data), MaxSeqLen = 128, LearningRate = 1e-3, InitFrom = sft,
                FrozenModelPath = stage == "dpo" ? sft : null,
            };
        }
        var a = await TestRuns.RunAsync(Settings(local));
        var b = await TestRuns.RunAsync(Settings(aggregated) with { AggregateGradients = true });
        Assert.True(Outcome.Completed == a.Finished.Outcome, a.Finished.Message);
        Assert.True(Outcome.Completed == b.Finished.Outcome, b.Finished.Message);
        var final = Path.Combine("checkpoints", stage == "lora" ? "lora-lora_medical" : stage, Actors.Checkpoints.TrainingCheckpoint.FileName(4));
        Assert.Equal(File.ReadAllBytes(Path.Combine(local, final)), File.ReadAllBytes(Path.Combine(aggregated, final)));
        Directory.Delete(local, true);
        Directory.Delete(aggregated, true);
    }
}
