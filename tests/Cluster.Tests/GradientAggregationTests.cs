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
}
