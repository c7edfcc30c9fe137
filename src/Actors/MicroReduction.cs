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
/// the result is bit for bit what a single process gets. A single process walks the same tree in micro-batch order with
/// <see cref="CanonicalSum{T}"/>, which keeps at most log2(A)+1 partial sums.
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
        TryReduce(units, 0, microCount);

    /// <summary>The sum of the subtree <c>[start, start+span)</c> (a node of the tree, see <see cref="IsSubtree"/>) from the
    /// gradients at hand, as <see cref="TryReduce(IReadOnlyDictionary{ValueTuple{int, int}, float[]}, int)"/>.</summary>
    public static float[]? TryReduce(IReadOnlyDictionary<(int Start, int Span), float[]> units, int start, int span)
    {
        // Returns (array, owned): owned arrays were allocated here and may be added into.
        (float[] Sum, bool Owned)? Visit(int lo, int n)
        {
            if (units.TryGetValue((lo, n), out var have)) return (have, false);
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
        var a = into.AsSpan();
        var b = other.AsSpan();
        for (var i = 0; i < a.Length; i++) a[i] += b[i];
    }
}

/// <summary>
/// Sums leaves pushed in micro-batch order into <see cref="MicroReduction"/>'s tree, like a binary counter: equal-sized
/// neighbours are added as soon as both exist, and <see cref="Finish"/> adds what remains from the right. Holds at most
/// log2(A)+1 partial sums. <paramref name="add"/>(left, right) returns left + right and may reuse left's storage.
/// </summary>
public sealed class CanonicalSum<T>(Func<T, T, T> add)
{
    readonly List<(T Sum, int Size)> stack = [];

    public int Count { get; private set; }

    public void Push(T leaf)
    {
        Count++;
        stack.Add((leaf, 1));
        while (stack.Count >= 2 && stack[^1].Size == stack[^2].Size)
        {
            var right = stack[^1];
            var left = stack[^2];
            stack.RemoveRange(stack.Count - 2, 2);
            stack.Add((add(left.Sum, right.Sum), left.Size * 2));
        }
    }

    /// <summary>The sum of everything pushed (blocks of decreasing size, added right to left).</summary>
    public T Finish()
    {
        if (stack.Count == 0) throw new InvalidOperationException("nothing to sum");
        var acc = stack[^1].Sum;
        for (var i = stack.Count - 2; i >= 0; i--) acc = add(stack[i].Sum, acc);
        stack.Clear();
        Count = 0;
        return acc;
    }
}
