using MiniMind.Actors;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Data;
using TorchSharp;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>A single-process run goes through the gradient aggregator like a cluster run. Its steps must be bit for bit
/// the production step done by hand (<see cref="BareStep"/>: <see cref="GradientStep.Backward"/> per micro-batch,
/// <see cref="TreeSum"/>, <see cref="GradientStep.Apply"/>) from the same checkpoint, model and AdamW state alike.</summary>
public class GradientAggregationTests
{
    [Theory]
    [InlineData("pretrain", "pretrain.jsonl", 3)]
    [InlineData("lora", "lora_medical.jsonl", 4)]
    [InlineData("dpo", "dpo.jsonl", 2)]
    public async Task Steps_through_the_aggregator_equal_the_production_step_done_by_hand(string stage, string data, int accumulation)
    {
        var dir = TestRuns.TempRunDir($"grad-{stage}");
        var settings = TestRuns.Tiny(dir, 4, 2) with { AccumulationSteps = accumulation, DataPath = Path.Combine(RepoPaths.Root, "dataset", data) };
        if (stage != "pretrain")
        {
            var sft = Path.Combine(dir, "full_sft_64.pth");
            TestRuns.CopyTinyWeights(sft);
            settings = settings with { Stage = stage, MaxSeqLen = 128, LearningRate = 1e-3, InitFrom = sft, FrozenModelPath = stage == "dpo" ? sft : null };
        }
        var run = await TestRuns.RunAsync(settings);
        Assert.True(Outcome.Completed == run.Finished.Outcome, run.Finished.Message);
        var checkpoints = settings.CheckpointDir;
        TrainingCheckpoint Read(long step) => TrainingCheckpoint.FromBytes(File.ReadAllBytes(Path.Combine(checkpoints, TrainingCheckpoint.FileName(step))), "test");

        var (model, optimizer) = BareSteps(settings, Read(2), from: 2, to: 4);
        var actors = Read(4);
        Assert.Equal(actors.Model, model);
        Assert.Equal(actors.Optimizer, optimizer);
        Directory.Delete(dir, true);
    }

    /// <summary>Steps [from, to) on this thread from <paramref name="start"/>; the model's and AdamW's bytes after them.</summary>
    static (byte[] Model, byte[] Optimizer) BareSteps(TrainingSettings s, TrainingCheckpoint start, long from, long to)
    {
        torch.set_num_threads(1);
        var device = TorchRuntime.ParseDevice(s.Device);
        var dataset = StageData.Open(s);
        var plan = TrainingPlan.For(dataset.Count, s);
        using var objective = StageObjective.For(s);
        using var model = objective.BuildModel(device, fresh: false);
        using var step = new GradientStep(objective.TrainableParameters(model), s.LearningRate, s.WeightDecay, s.GradClip);
        using (var r = new BinaryReader(new MemoryStream(start.Model))) model.load(r);
        using (var r = new BinaryReader(new MemoryStream(start.Optimizer))) step.Optimizer.load_state_dict(r);
        for (var i = from; i < to; i++)
        {
            var batches = DataLoader.Build(dataset, plan, SampleOrder.Permutation(dataset.Count, s.Seed, plan.EpochOf(i)), i);
            BareStep.Run(objective, model, step, batches.Micro, plan.LearningRateAt(i), device);
        }
        byte[] Capture(Action<BinaryWriter> write)
        {
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) write(w);
            return ms.ToArray();
        }
        return (Capture(w => model.save(w)), Capture(w => step.Optimizer.save_state_dict(w)));
    }
}
