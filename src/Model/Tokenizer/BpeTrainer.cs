// Byte-level BPE trainer: the C# counterpart of jingyaogong/minimind scripts/train_tokenizer.py @ 561979c,
// which runs HF tokenizers' BpeTrainer (models/bpe/trainer.rs) with a ByteLevel pre-tokenizer.
// Semantics kept from HF:
//   * vocab = special tokens (ids 0,1,2), then the 256 ByteLevel chars sorted by code point, then merges in order;
//   * pair counts are weighted by word frequency and count every adjacent pair (overlaps too: "aaa" has 2 × (a,a));
//   * the pair with the highest count is merged next; ties go to the smallest (left id, right id);
//   * inside a word a merge applies left to right; training stops at VocabSize or when no pair has count >= max(1, MinFrequency);
//   * a merge whose result string already exists reuses that id (the vocab does not grow, the merge is still recorded).
// One deliberate difference: HF keeps a pair's word positions per heap entry; here they live in one table per pair,
// which only matters in that "string already exists" case (HF may then apply the merge to part of the words first).
using System.Runtime.InteropServices;

namespace MiniMind.Model.Tokenizer;

/// <summary>Trains a byte-level BPE tokenizer in two phases: <see cref="Feed(string)"/> / <see cref="FeedJsonl"/> count
/// pre-token ("word") frequencies, then <see cref="Train"/> runs the merges.</summary>
/// <remarks>Memory: texts are streamed and dropped after counting, so only the word-count table grows (with the
/// number of distinct pre-tokens, not with the corpus size). <see cref="Train"/> then holds one int array per distinct word.
/// Deterministic: the same texts in the same order give the same result, byte for byte.</remarks>
public sealed class BpeTrainer
{
    readonly BpeTrainerOptions options;
    readonly Dictionary<string, long> wordCounts = new(StringComparer.Ordinal);
    readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> wordLookup;

    public BpeTrainer(BpeTrainerOptions? options = null)
    {
        this.options = options ?? new BpeTrainerOptions();
        var minVocab = this.options.SpecialTokens.Distinct().Count() + 256;
        if (this.options.VocabSize < minVocab)
            throw new ArgumentOutOfRangeException(nameof(options), this.options.VocabSize, $"VocabSize must be at least {minVocab} (special tokens + 256 byte chars)");
        wordLookup = wordCounts.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public BpeTrainerOptions Options => options;

    /// <summary>Texts fed so far.</summary>
    public long TextCount { get; private set; }

    /// <summary>UTF-16 chars fed so far.</summary>
    public long CharCount { get; private set; }

    /// <summary>Distinct pre-tokens counted so far (the size of the only table that grows while feeding).</summary>
    public int DistinctWordCount => wordCounts.Count;

    /// <summary>Pre-tokenizes <paramref name="text"/> and adds its words to the counts.</summary>
    public void Feed(string text) => Feed(text.AsSpan());

    /// <inheritdoc cref="Feed(string)"/>
    public void Feed(ReadOnlySpan<char> text)
    {
        var pos = 0;
        while (pos < text.Length)
        {
            var len = BpeTrainerPreTokenizer.NextPiece(text, pos);
            ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(wordLookup, text.Slice(pos, len), out _);
            count++;
            pos += len;
        }
        TextCount++;
        CharCount += text.Length;
    }

    /// <summary>Streams a JSONL file line by line (see <see cref="BpeTrainerJsonl"/> for the accepted records) into <see cref="Feed(string)"/>.</summary>
    /// <exception cref="Data.Shards.DataFormatException">A line is not valid JSON or has no text; the message starts with "path:line:".</exception>
    public void FeedJsonl(string path, IProgress<BpeTrainerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var total = new FileInfo(path).Length;
        var lastReported = -1L;
        void OnBytes(long done)
        {
            var percent = total > 0 ? done * 100 / total : 100;
            if (progress == null || percent == lastReported) return;
            lastReported = percent;
            progress.Report(new BpeTrainerProgress(BpeTrainerProgress.CountWords, done, total));
        }
        foreach (var (_, text) in BpeTrainerJsonl.ReadTexts(path, OnBytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Feed(text);
        }
    }

    /// <summary>Runs the merges on the words counted so far. Can be called more than once (each call starts over).</summary>
    public BpeTrainerResult Train(IProgress<BpeTrainerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        // 1. Special tokens, then the byte alphabet sorted by code point.
        var idToToken = new List<string>(options.VocabSize);
        var tokenToId = new Dictionary<string, int>(options.VocabSize, StringComparer.Ordinal);
        void AddToken(string token)
        {
            if (tokenToId.TryAdd(token, idToToken.Count)) idToToken.Add(token);
        }
        foreach (var special in options.SpecialTokens) AddToken(special);
        var specialCount = idToToken.Count;
        foreach (var c in BpeTrainerByteAlphabet.SortedAlphabet) AddToken(c.ToString());
        var charToId = new int[char.MaxValue + 1];
        foreach (var c in BpeTrainerByteAlphabet.SortedAlphabet) charToId[c] = tokenToId[c.ToString()];

        // 2. Words as symbol-id arrays (in first-seen order, which keeps everything below deterministic).
        var words = new int[wordCounts.Count][];
        var lengths = new int[wordCounts.Count];
        var counts = new long[wordCounts.Count];
        var w = 0;
        foreach (var (word, count) in wordCounts)
        {
            var mapped = BpeTrainerByteAlphabet.Encode(word);
            var symbols = new int[mapped.Length];
            for (var i = 0; i < mapped.Length; i++) symbols[i] = charToId[mapped[i]];
            words[w] = symbols;
            lengths[w] = symbols.Length;
            counts[w] = count;
            w++;
        }

        // 3. Pair counts and where each pair occurs.
        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, HashSet<int>>();
        for (w = 0; w < words.Length; w++)
        {
            var symbols = words[w];
            for (var i = 0; i + 1 < lengths[w]; i++)
            {
                var pair = Pair(symbols[i], symbols[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _) += counts[w];
                ref var set = ref CollectionsMarshal.GetValueRefOrAddDefault(where, pair, out _);
                (set ??= []).Add(w);
            }
        }
        var queue = new PriorityQueue<long, (long Count, long Pair)>(pairCounts.Count, MergeOrder.Instance);
        foreach (var (pair, count) in pairCounts)
            if (count > 0) queue.Enqueue(pair, (count, pair));

        // 4. Merge the most frequent pair until the vocab is full. Heap entries may be stale (a pair's count only
        //    drops after it was queued, unless a merge reuses an existing token); a stale entry is re-queued with its
        //    current count, which is the lazy form of "always take the max".
        var merges = new List<BpeTrainerResult.Merge>();
        var touched = new HashSet<long>();
        var minCount = Math.Max(1, options.MinFrequency);
        var lastPercent = -1L;
        void Report()
        {
            var percent = (long)idToToken.Count * 100 / options.VocabSize;
            if (progress == null || percent == lastPercent) return;
            lastPercent = percent;
            progress.Report(new BpeTrainerProgress(BpeTrainerProgress.Merge, idToToken.Count, options.VocabSize));
        }
        Report();
        while (idToToken.Count < options.VocabSize && queue.TryDequeue(out var top, out var queued))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var current = pairCounts.GetValueOrDefault(top);
            if (queued.Count != current)
            {
                if (current > 0) queue.Enqueue(top, (current, top));
                continue;
            }
            if (current < minCount) break;

            var (left, right) = ((int)(top >> 32), (int)top);
            var merged = idToToken[left] + idToToken[right];
            AddToken(merged);
            var newId = tokenToId[merged];
            merges.Add(new BpeTrainerResult.Merge(idToToken[left], idToToken[right], newId));

            touched.Clear();
            foreach (var wi in where[top])
                MergeWord(words[wi], ref lengths[wi], left, right, newId, counts[wi], wi, pairCounts, where, touched);
            // Every occurrence is gone now (a left-to-right pass leaves no adjacent left,right behind).
            pairCounts.Remove(top);
            where.Remove(top);
            foreach (var pair in touched)
            {
                var count = pairCounts[pair];
                if (count > 0) queue.Enqueue(pair, (count, pair));
            }
            Report();
        }
        progress?.Report(new BpeTrainerProgress(BpeTrainerProgress.Merge, idToToken.Count, options.VocabSize));
        return new BpeTrainerResult(idToToken.ToArray(), merges.ToArray(), specialCount);
    }

    /// <summary>Replaces each left,right in the word by <paramref name="newId"/>, left to right, in place, and applies
    /// the pair-count changes around each replacement (weighted by the word's count).</summary>
    static void MergeWord(int[] s, ref int length, int left, int right, int newId, long wordCount, int wordIndex,
        Dictionary<long, long> pairCounts, Dictionary<long, HashSet<int>> where, HashSet<long> touched)
    {
        int r = 0, o = 0;
        while (r < length)
        {
            if (r + 1 < length && s[r] == left && s[r + 1] == right)
            {
                if (o > 0)
                {
                    Change(Pair(s[o - 1], left), -wordCount);
                    Added(Pair(s[o - 1], newId));
                }
                if (r + 2 < length)
                {
                    Change(Pair(right, s[r + 2]), -wordCount);
                    Added(Pair(newId, s[r + 2]));
                }
                s[o++] = newId;
                r += 2;
            }
            else s[o++] = s[r++];
        }
        length = o;

        void Change(long pair, long delta) => CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, pair, out _) += delta;

        void Added(long pair)
        {
            Change(pair, wordCount);
            ref var set = ref CollectionsMarshal.GetValueRefOrAddDefault(where, pair, out _);
            (set ??= []).Add(wordIndex);
            touched.Add(pair);
        }
    }

    static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Heap order: higher count first; on a tie the smaller (left id, right id) first, as HF does.</summary>
    sealed class MergeOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly MergeOrder Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }
}
