using Xunit;
using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors.Tests;

public class MicroReductionTests
{
    /// <summary>Gradients whose sums depend on the order of additions (magnitudes from 1e-8 to 1e8).</summary>
    static float[][] Gradients(int count, int length, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length)
            .Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-8, 9)))).ToArray())];
    }

    /// <summary>The tree written out as the documentation defines it.</summary>
    static float[] Tree(float[][] g, int lo, int n)
    {
        if (n == 1) return g[lo];
        var p = MicroReduction.SplitPoint(n);
        var left = Tree(g, lo, p);
        var right = Tree(g, lo + p, n - p);
        return [.. left.Zip(right, (x, y) => x + y)];
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 4)]
    [InlineData(8, 4)]
    [InlineData(9, 8)]
    public void The_split_point_is_the_largest_power_of_two_below_n(int n, int expected) =>
        Assert.Equal(expected, MicroReduction.SplitPoint(n));

    [Fact]
    public void The_tree_differs_from_a_left_fold_so_the_order_is_observable()
    {
        var g = Gradients(8, 4096, 1);
        var fold = g.Skip(1).Aggregate((float[])g[0].Clone(), (acc, x) => [.. acc.Zip(x, (p, q) => p + q)]);
        Assert.NotEqual(fold, Tree(g, 0, 8));
    }

    [Fact]
    public void The_aggregators_running_sum_equals_the_tree_in_any_arrival_order_with_duplicates_and_blocks()
    {
        for (var a = 1; a <= 33; a++)
        {
            var g = Gradients(a, 257, a);
            var expected = Tree(g, 0, a);
            var inOrder = new TreeSum(a);
            foreach (var m in Enumerable.Range(0, a)) Assert.True(inOrder.Add(m, 1, (float[])g[m].Clone()));
            Assert.Equal(expected, inOrder.Result);

            var random = new Random(a);
            var shuffled = new TreeSum(a);
            foreach (var m in Enumerable.Range(0, a).OrderBy(_ => random.Next()))
            {
                Assert.Null(shuffled.Result);
                Assert.True(shuffled.Add(m, 1, (float[])g[m].Clone()));
            }
            Assert.Equal(expected, shuffled.Result);
            Assert.False(shuffled.Add(a - 1, 1, (float[])g[a - 1].Clone()));          // a reassigned micro-batch's second copy
            Assert.Equal(expected, shuffled.Result);

            if (a < 4) continue;
            var withBlock = new TreeSum(a);                                            // a node sent [0, 4) as one sum
            Assert.True(withBlock.Add(1, 1, (float[])g[1].Clone()));
            Assert.True(withBlock.Add(0, 4, Tree(g, 0, 4)));                           // covers micro-batch 1: replaces it
            Assert.False(withBlock.Add(2, 1, (float[])g[2].Clone()));
            foreach (var m in Enumerable.Range(4, a - 4)) withBlock.Add(m, 1, (float[])g[m].Clone());
            Assert.Equal(expected, withBlock.Result);
        }
    }

    [Fact]
    public void A_gradient_for_a_range_that_is_not_a_block_is_refused()
    {
        var sum = new TreeSum(6);
        Assert.Throws<InvalidOperationException>(() => sum.Add(1, 2, new float[3]));
    }

    [Fact]
    public void The_vectorised_add_gives_the_scalar_bits()
    {
        var random = new Random(7);
        var a = Enumerable.Range(0, 1001).Select(_ => (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-8, 8))).ToArray();
        var b = Enumerable.Range(0, 1001).Select(_ => (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-8, 8))).ToArray();
        var expected = a.Zip(b, (x, y) => x + y).ToArray();
        MicroReduction.Add(a, b);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), a.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void Every_aligned_block_is_a_subtree_and_its_local_sum_gives_the_same_bits()
    {
        for (var a = 1; a <= 24; a++)
        {
            var g = Gradients(a, 129, 100 + a);
            var expected = Tree(g, 0, a);
            for (var size = 1; size <= a; size *= 2)
                for (var start = 0; start + size <= a; start += size)
                {
                    Assert.True(MicroReduction.IsSubtree(start, size, a), $"A={a}: [{start}, {start + size}) should be a subtree");
                    var units = Enumerable.Range(0, a).Where(m => m < start || m >= start + size).ToDictionary(m => (m, 1), m => g[m]);
                    units[(start, size)] = Tree(g, start, size);          // what a node holding the block sends
                    Assert.Equal(expected, MicroReduction.TryReduce(units, a));
                }
        }
    }

    [Fact]
    public void A_block_that_is_not_aligned_is_not_a_subtree()
    {
        Assert.False(MicroReduction.IsSubtree(1, 2, 8));
        Assert.False(MicroReduction.IsSubtree(2, 4, 8));
        Assert.False(MicroReduction.IsSubtree(4, 4, 6));   // reaches past A
        Assert.True(MicroReduction.IsSubtree(4, 2, 6));
    }

    [Fact]
    public void Blocks_are_the_largest_subtrees_a_node_holds()
    {
        Assert.Equal([(0, 2), (4, 2)], MicroReduction.Blocks(new HashSet<int> { 0, 1, 4, 5 }, 8));
        Assert.Equal([(0, 4)], MicroReduction.Blocks(new HashSet<int> { 0, 1, 2, 3 }, 8));
        Assert.Equal([(1, 1), (2, 2)], MicroReduction.Blocks(new HashSet<int> { 1, 2, 3 }, 8));
        Assert.Equal([(4, 2)], MicroReduction.Blocks(new HashSet<int> { 4, 5 }, 6));
        Assert.Empty(MicroReduction.Blocks(new HashSet<int>(), 4));
    }

    [Fact]
    public void A_missing_micro_batch_leaves_the_sum_incomplete()
    {
        var g = Gradients(4, 8, 3);
        var units = new Dictionary<(int, int), float[]> { [(0, 2)] = Tree(g, 0, 2), [(3, 1)] = g[3] };
        Assert.False(MicroReduction.Covers(units.Keys.ToHashSet(), 4));
        Assert.Null(MicroReduction.TryReduce(units, 4));
        units[(2, 1)] = g[2];
        var block = (float[])units[(0, 2)].Clone();
        Assert.True(MicroReduction.Covers(units.Keys.ToHashSet(), 4));
        Assert.Equal(Tree(g, 0, 4), MicroReduction.TryReduce(units, 4));
        Assert.Equal(block, units[(0, 2)]);   // the inputs are left as they were
    }

    [Fact]
    public async Task The_aggregator_takes_a_locally_reduced_block_next_to_single_micro_batches()
    {
        using var system = ActorSystem.Create("aggregator-blocks");
        var inbox = Inbox.Create(system);
        var aggregator = system.ActorOf(GradientAggregator.Props());
        var g = Gradients(4, 10, 7);
        aggregator.Tell(new GradientAggregator.BeginStep(1, 5, 4, 10, 1e-4, inbox.Receiver, inbox.Receiver));
        foreach (var c in GradientChunk.Split(5, 2, Tree(g, 2, 2), 16, span: 2)) aggregator.Tell(c);   // a 2-device node's block
        foreach (var m in new[] { 1, 0 })
            foreach (var c in GradientChunk.Split(5, m, g[m], 16)) aggregator.Tell(c);
        for (var m = 0; m < 4; m++) aggregator.Tell(new GradientAggregator.MicroBatchDone(5, m, 1.0, 3));
        var apply = Assert.IsType<GpuWorker.ApplyGradients>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(Tree(g, 0, 4), apply.Gradient);
        Assert.Equal(12, apply.Tokens);
    }
}
