using MiniMind.Actors;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>`--dtype` (TrainingSettings.Dtype) through the production training run: bf16 mixed precision stays close to
/// fp32, a stopped run resumes bitwise within its dtype, and a run may resume in the other dtype.</summary>
public class DtypeTrainingTests
{
    static TrainingSettings Tiny(string dir, string dtype, long steps = 8) => TestRuns.Tiny(dir, steps, 2) with { Dtype = dtype };

    static double[] Losses(TestRuns.Result r) =>
        r.Reports.OfType<TrainingProgress>().OrderBy(p => p.Step).Select(p => p.Loss).ToArray();

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public async Task A_stopped_run_resumes_to_the_weights_of_an_uninterrupted_run_in_the_same_dtype(string dtype)
    {
        var reference = TestRuns.TempRunDir($"dtype-{dtype}-ref");
        var dir = TestRuns.TempRunDir($"dtype-{dtype}-stop");
        Assert.Equal(Outcome.Completed, (await TestRuns.RunAsync(Tiny(reference, dtype))).Finished.Outcome);

        var stopped = await TestRuns.RunAsync(Tiny(dir, dtype), stopWhen: m => m is TrainingProgress { Step: >= 3 });
        Assert.Equal(Outcome.Stopped, stopped.Finished.Outcome);
        var resumed = await TestRuns.RunAsync(Tiny(dir, dtype));
        Assert.Equal(Outcome.Completed, resumed.Finished.Outcome);
        Assert.Contains(resumed.Reports, r => r is TrainingBegan { Resumed: true });

        Assert.Equal(TestRuns.FinalCheckpoint(reference, 8), TestRuns.FinalCheckpoint(dir, 8));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "pretrain_64.pth")), File.ReadAllBytes(Path.Combine(dir, "pretrain_64.pth")));
        Directory.Delete(reference, true);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task Bf16_mixed_precision_trains_other_weights_with_a_loss_within_1_percent_of_fp32()
    {
        var fp32Dir = TestRuns.TempRunDir("dtype-fp32");
        var bf16Dir = TestRuns.TempRunDir("dtype-bf16");
        var fp32 = await TestRuns.RunAsync(Tiny(fp32Dir, "fp32"));
        var bf16 = await TestRuns.RunAsync(Tiny(bf16Dir, "bf16"));
        var a = Losses(fp32);
        var b = Losses(bf16);
        Assert.Equal(8, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (var i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(b[i] - a[i]) <= 0.01 * Math.Abs(a[i]), $"step {i + 1}: bf16 loss {b[i]} vs fp32 {a[i]}");
        // The dtype took effect: the bf16 matmuls round differently, so the trained weights differ.
        Assert.NotEqual(TestRuns.FinalCheckpoint(fp32Dir, 8), TestRuns.FinalCheckpoint(bf16Dir, 8));
        Assert.NotEqual(a, b);
        Directory.Delete(fp32Dir, true);
        Directory.Delete(bf16Dir, true);
    }

    [Fact]
    public async Task A_bf16_run_may_resume_in_fp32()
    {
        var dir = TestRuns.TempRunDir("dtype-switch");
        var stopped = await TestRuns.RunAsync(Tiny(dir, "bf16"), stopWhen: m => m is TrainingProgress { Step: >= 3 });
        Assert.Equal(Outcome.Stopped, stopped.Finished.Outcome);
        var resumed = await TestRuns.RunAsync(Tiny(dir, "fp32"));
        Assert.Equal(Outcome.Completed, resumed.Finished.Outcome);
        Assert.Contains(resumed.Reports, r => r is TrainingBegan { Resumed: true });
        Directory.Delete(dir, true);
    }
}
