using Xunit;
using MiniMind.Model.Data;

namespace MiniMind.Actors.Tests;

public class TrainingPlanTests
{
    static readonly TrainingSettings Settings = new() { BatchSize = 3, AccumulationSteps = 2, Epochs = 2, LearningRate = 5e-4 };

    [Fact]
    public void Every_sample_of_an_epoch_is_used_at_most_once_and_only_the_last_partial_step_is_dropped()
    {
        var plan = TrainingPlan.For(20, Settings);
        Assert.Equal(3, plan.StepsPerEpoch);          // 20 / (3·2) = 3 whole steps, 2 samples dropped
        Assert.Equal(6, plan.TotalSteps);
        foreach (var epoch in new[] { 0, 1 })
        {
            var order = SampleOrder.Permutation(20, 42, epoch);
            var used = new List<long>();
            for (var s = epoch * plan.StepsPerEpoch; s < (epoch + 1) * plan.StepsPerEpoch; s++)
                for (var m = 0; m < 2; m++)
                    for (var r = 0; r < 3; r++)
                        used.Add(order[plan.PositionOf(s, m, r)]);
            Assert.Equal(18, used.Distinct().Count());
        }
    }

    [Fact]
    public void Max_steps_caps_the_total_and_the_LR_horizon()
    {
        var plan = TrainingPlan.For(1000, Settings with { MaxSteps = 10 });
        Assert.Equal(10, plan.TotalSteps);
        Assert.Equal(5e-4 * 1.1, plan.LearningRateAt(0), 1e-5);
        Assert.True(plan.LearningRateAt(9) < 1e-4);
    }

    [Fact]
    public void The_LR_is_MiniMinds_cosine_at_the_steps_last_micro_iteration()
    {
        var plan = TrainingPlan.For(60, Settings);     // 10 steps per epoch, 20 total, 40 iterations
        Assert.Equal(MiniMind.Model.LearningRate.MiniMindCosine(7, 40, 5e-4), plan.LearningRateAt(3));
    }

    [Fact]
    public void Cursor_counts_the_samples_consumed_in_the_epoch()
    {
        var plan = TrainingPlan.For(60, Settings);
        Assert.Equal(6, plan.CursorAfter(0));
        Assert.Equal(60, plan.CursorAfter(9));
        Assert.Equal(6, plan.CursorAfter(10));
        Assert.Equal(1, plan.EpochOf(10));
    }

    [Fact]
    public void Too_small_a_dataset_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainingPlan.For(5, Settings));
        Assert.Contains("fewer than one step", e.Message);
    }
}
