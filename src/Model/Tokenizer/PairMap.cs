namespace MiniMind.Model.Tokenizer;

/// <summary>
/// BPE merge table: (left id, right id) → merge rank, in a flat open-addressing table (linear probing,
/// power-of-two size, load ≤ 0.5). Read-only after construction, so concurrent lookups are safe.
/// </summary>
internal sealed class PairMap
{
    const ulong Empty = ulong.MaxValue;
    readonly ulong[] _keys;
    readonly int[] _ranks;
    readonly int _mask;

    public PairMap(int count)
    {
        var size = 16;
        while (size < count * 2) size <<= 1;
        _keys = new ulong[size];
        Array.Fill(_keys, Empty);
        _ranks = new int[size];
        _mask = size - 1;
    }

    static ulong Key(int left, int right) => ((ulong)(uint)left << 32) | (uint)right;

    static int Slot(ulong key, int mask) => (int)((key * 0x9E3779B97F4A7C15UL) >> 32) & mask;

    /// <summary>Sets a pair's rank. A pair listed twice keeps its last rank, as HF's merge HashMap does.</summary>
    public void Set(int left, int right, int rank)
    {
        var key = Key(left, right);
        var slot = Slot(key, _mask);
        while (_keys[slot] != key && _keys[slot] != Empty) slot = (slot + 1) & _mask;
        _keys[slot] = key;
        _ranks[slot] = rank;
    }

    /// <summary>The rank of merging <paramref name="left"/> with <paramref name="right"/>, or int.MaxValue.</summary>
    public int Rank(int left, int right)
    {
        var key = Key(left, right);
        var keys = _keys;
        for (var slot = Slot(key, _mask); ; slot = (slot + 1) & _mask)
        {
            var k = keys[slot];
            if (k == key) return _ranks[slot];
            if (k == Empty) return int.MaxValue;
        }
    }
}
