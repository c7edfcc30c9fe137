namespace MiniMind.Actors;

/// <summary>
/// The one order in which a step's micro-batch gradients are summed, wherever they were computed (issue 5).
///
/// Float addition is not associative, so "the same sum" means "the same tree of additions". The tree over micro-batches
/// <c>[lo, lo+n)</c> is: a leaf when n = 1; otherwise the tree of the first p micro-batches plus the tree of the rest,
/// where p is the largest power of two below n. For A = 8 that is ((g0+g1)+(g2+g3))+((g4+g5)+(g6+g7)); for A = 6 it is
/// ((g0+g1)+(g2+g3))+(g4+g5).
///
/// Every aligned block of 2^k micro-batches (start a multiple of 2^k) that lies inside <c>[0, A)</c> is a subtree, so a
/// node with several devices that computed such a block can add it up locally and send one gradient instead of 2^k:
/// the result is bit for bit what a single process gets. The aggregator adds blocks up as they arrive with
/// <see cref="TreeSum"/>, which keeps at most log2(A)+1 partial sums when they arrive in order.
/// </summary>
public static class MicroReduction
{
    /// <summary>The largest power of two strictly below <paramref name="n"/> (n ≥ 2): where the tree splits n micro-batches.</summary>
    public static int SplitPoint(int n)
    {
        if (n < 2) throw new ArgumentOutOfRangeException(nameof(n), n, "a split needs at least two micro-batches");
        var p = 1;
        while (p * 2 < n) p *= 2;
        return p;
    }

    /// <summary>The largest subtrees of the tree over <c>[0, microCount)</c> whose micro-batches are all in <paramref name="held"/>,
    /// in micro-batch order. A node sends one gradient per block.</summary>
    public static IReadOnlyList<(int Start, int Span)> Blocks(IReadOnlySet<int> held, int microCount)
    {
        var blocks = new List<(int, int)>();
        void Visit(int lo, int n)
        {
            if (Enumerable.Range(lo, n).All(held.Contains)) { blocks.Add((lo, n)); return; }
            if (n == 1) return;
            var p = SplitPoint(n);
            Visit(lo, p);
            Visit(lo + p, n - p);
        }
        if (microCount > 0) Visit(0, microCount);
        return blocks;
    }

    /// <summary>True when (<paramref name="start"/>, <paramref name="span"/>) is a node of the tree over <c>[0, microCount)</c>.</summary>
    public static bool IsSubtree(int start, int span, int microCount)
    {
        bool Find(int lo, int n)
        {
            if (lo == start && n == span) return true;
            if (n == 1 || start < lo || start + span > lo + n) return false;
            var p = SplitPoint(n);
            return Find(lo, p) || Find(lo + p, n - p);
        }
        return span >= 1 && start >= 0 && start + span <= microCount && Find(0, microCount);
    }

    /// <summary>True when the blocks in <paramref name="have"/> cover the tree over <c>[0, microCount)</c> (so <see cref="TryReduce"/> succeeds).</summary>
    public static bool Covers(IReadOnlySet<(int Start, int Span)> have, int microCount)
    {
        bool Visit(int lo, int n)
        {
            if (have.Contains((lo, n))) return true;
            if (n == 1) return false;
            var p = SplitPoint(n);
            return Visit(lo, p) && Visit(lo + p, n - p);
        }
        return microCount <= 0 || Visit(0, microCount);
    }

    /// <summary>The sum over <c>[0, microCount)</c> from the gradients at hand: <paramref name="units"/> maps (start, span) to a
    /// micro-batch's gradient (span 1) or a subtree's sum. A subtree that is present is used as it is; otherwise its two
    /// halves are added. Returns null when some micro-batch is covered by nothing. Never changes the given arrays.</summary>
    public static float[]? TryReduce(IReadOnlyDictionary<(int Start, int Span), float[]> units, int microCount) =>
        Reduce(units, 0, microCount, consume: false);

    /// <summary>The sum of the subtree <c>[start, start+span)</c> (a node of the tree, see <see cref="IsSubtree"/>) from the
    /// gradients at hand, as <see cref="TryReduce(IReadOnlyDictionary{ValueTuple{int, int}, float[]}, int)"/>.</summary>
    public static float[]? TryReduce(IReadOnlyDictionary<(int Start, int Span), float[]> units, int start, int span) =>
        Reduce(units, start, span, consume: false);

    /// <summary>As <see cref="TryReduce(IReadOnlyDictionary{ValueTuple{int, int}, float[]}, int, int)"/>, for a caller that
    /// owns the arrays and drops them afterwards: sums are added into them, and the result may be one of them
    /// (the same bits, without a copy).</summary>
    public static float[]? ReduceOwned(IReadOnlyDictionary<(int Start, int Span), float[]> units, int start, int span) =>
        Reduce(units, start, span, consume: true);

    static float[]? Reduce(IReadOnlyDictionary<(int Start, int Span), float[]> units, int start, int span, bool consume)
    {
        // Returns (array, owned): owned arrays may be added into.
        (float[] Sum, bool Owned)? Visit(int lo, int n)
        {
            if (units.TryGetValue((lo, n), out var have)) return (have, consume);
            if (n == 1) return null;
            var p = SplitPoint(n);
            if (Visit(lo, p) is not { } left || Visit(lo + p, n - p) is not { } right) return null;
            var sum = left.Owned ? left.Sum : (float[])left.Sum.Clone();
            Add(sum, right.Sum);
            return (sum, true);
        }
        if (span <= 0) return [];
        return Visit(start, span) is { } r ? (r.Owned ? r.Sum : (float[])r.Sum.Clone()) : null;
    }

    /// <summary>into[i] += other[i], element-wise in float32.</summary>
    public static void Add(float[] into, float[] other)
    {
        if (into.Length != other.Length) throw new ArgumentException($"gradient lengths differ: {into.Length} vs {other.Length}");
        // Vectorised: each lane is the same IEEE float32 addition as the scalar loop, so the bits do not change.
        var a = into.AsSpan();
        var b = other.AsSpan();
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<float>.Count;
            for (; i <= a.Length - width; i += width)
                (new System.Numerics.Vector<float>(a[i..]) + new System.Numerics.Vector<float>(b[i..])).CopyTo(a[i..]);
        }
        for (; i < a.Length; i++) a[i] += b[i];
    }
}

/// <summary>
/// Adds the gradients of blocks of <see cref="MicroReduction"/>'s tree over <c>[0, microCount)</c> as they arrive, in any
/// order: two sibling subtrees are added (left += right) as soon as both are there, so gradients that arrive in
/// micro-batch order leave at most log2(A)+1 sums alive. The result is bit for bit
/// <see cref="MicroReduction.TryReduce(IReadOnlyDictionary{ValueTuple{int, int}, float[]}, int)"/>'s. Takes ownership of the
/// arrays it is given (adds into them).
/// </summary>
public sealed class TreeSum(int microCount)
{
    readonly Dictionary<(int Start, int Span), float[]> sums = [];

    public int MicroCount => microCount;

    /// <summary>The whole sum, once every micro-batch is in.</summary>
    public float[]? Result => sums.GetValueOrDefault((0, microCount));

    /// <summary>Adds the gradient of block (<paramref name="start"/>, <paramref name="span"/>). Returns false, and ignores it,
    /// when that block is already covered (a micro-batch computed twice after a reassignment: the same bits).</summary>
    public bool Add(int start, int span, float[] gradient)
    {
        if (!MicroReduction.IsSubtree(start, span, microCount))
            throw new InvalidOperationException($"a gradient for micro-batches {start}..{start + span - 1} is not a block of the reduction tree over {microCount}");
        if (sums.Keys.Any(k => k.Start <= start && start + span <= k.Start + k.Span)) return false;
        foreach (var inside in sums.Keys.Where(k => start <= k.Start && k.Start + k.Span <= start + span).ToList()) sums.Remove(inside);
        var node = (Start: start, Span: span);
        var sum = gradient;
        while (Parent(node) is { } parent)
        {
            var left = (parent.Start, MicroReduction.SplitPoint(parent.Span));
            var isLeft = node == left;
            var sibling = isLeft ? (parent.Start + left.Item2, parent.Span - left.Item2) : left;
            if (!sums.Remove(sibling, out var other)) break;
            if (isLeft) MicroReduction.Add(sum, other);
            else
            {
                MicroReduction.Add(other, sum);
                sum = other;
            }
            node = parent;
        }
        sums[node] = sum;
        return true;
    }

    /// <summary>The parent of a node of the tree (null for the root).</summary>
    (int Start, int Span)? Parent((int Start, int Span) node)
    {
        (int, int)? parent = null;
        var (lo, n) = (0, microCount);
        while (lo != node.Start || n != node.Span)
        {
            parent = (lo, n);
            var p = MicroReduction.SplitPoint(n);
            if (node.Start < lo + p) n = p;
            else (lo, n) = (lo + p, n - p);
        }
        return parent;
    }
}
