using MiniMind.Model.Data;
using Xunit;

namespace MiniMind.Model.Tests.Data;

public class SampleOrderTests
{
    [Fact]
    public void Permutation_is_a_pure_function_of_seed_epoch_and_count()
    {
        var a = SampleOrder.Permutation(1000, 42, 3);
        var b = SampleOrder.Permutation(1000, 42, 3);
        Assert.Equal(a, b);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), a.Order());
    }

    [Fact]
    public void Epochs_and_seeds_give_different_orders()
    {
        var e0 = SampleOrder.Permutation(1000, 42, 0);
        Assert.NotEqual(e0, SampleOrder.Permutation(1000, 42, 1));
        Assert.NotEqual(e0, SampleOrder.Permutation(1000, 43, 0));
        Assert.NotEqual(Enumerable.Range(0, 1000).Select(i => (long)i), e0);
    }

    [Fact]
    public void Without_shuffle_the_order_is_the_identity()
    {
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, SampleOrder.Permutation(5, 42, 7, shuffle: false));
        Assert.Empty(SampleOrder.Permutation(0, 1, 0));
    }
}
