using MiniMind.Model.Data;
using Xunit;

namespace MiniMind.Model.Tests.Data;

public sealed class BatchPlanTests
{
    [Fact]
    public void Batch_rebuilt_directly_should_equal_the_batch_reached_by_iterating()
    {
        var plan = new BatchPlan(count: 1003, batchSize: 16, accumulationSteps: 4, seed: 7);
        for (var epoch = 0; epoch < 2; epoch++)
        {
            var iterated = plan.Epoch(epoch).ToList();
            Assert.Equal(plan.MicroBatchesPerEpoch, iterated.Count);
            var fresh = new BatchPlan(1003, 16, 4, seed: 7); // nothing read before
            foreach (var k in new[] { 0, 1, 17, 62 })
                Assert.Equal(iterated[k], fresh.MicroBatch(epoch, k));
            Assert.Equal(iterated[4 * 9 + 3], fresh.Batch(epoch, step: 9, microIndex: 3));
        }
    }

    [Fact]
    public void Epoch_should_visit_every_sample_once_with_a_short_last_batch()
    {
        var plan = new BatchPlan(1003, 16, 4, seed: 7);
        var all = plan.Epoch(1).SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, 1003).Select(i => (long)i), all.Order());
        Assert.Equal(1003 % 16, plan.MicroBatch(1, plan.MicroBatchesPerEpoch - 1).Length);
        Assert.Equal(16, plan.StepsPerEpoch); // ceil(63 / 4)
        Assert.Empty(plan.Batch(1, 15, 3)); // micro-batch 63 does not exist
        Assert.NotEqual(plan.MicroBatch(0, 0), plan.MicroBatch(1, 0));
        Assert.Equal(SampleOrder.Permutation(1003, 7, 1)[..16], plan.MicroBatch(1, 0));
    }
}
