using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>
/// HuggingFace byte-level BPE (the <c>tokenizers</c> Rust crate, 0.22) loaded from tokenizer.json, with
/// id-for-id parity: MiniMind's <c>model/tokenizer.json</c> at commit 561979c (6400 ids, ChatML specials).
/// <para>Encode = split out added tokens (leftmost-longest on the raw text) → GPT-2 pre-tokenize each
/// remaining segment by code point (<see cref="Gpt2PreTokenizer"/>) → UTF-8 bytes → byte-level ids →
/// BPE merges, lowest rank first, leftmost on ties. No normalizer and no post-processor: nothing is added.</para>
/// <para>Decode = each token's bytes (byte-level alphabet mapped back) concatenated, then UTF-8 decoded with
/// U+FFFD for invalid sequences, as HF's ByteLevel decoder does.</para>
/// <para>Thread-safe: the tables are read-only and each thread has its own word cache and scratch buffers.</para>
/// </summary>
public sealed class BpeTokenizer
{
    /// <summary>Words (pre-tokens) up to this many UTF-16 chars are cached; HF caches words under 256 chars.</summary>
    const int MaxCachedWordChars = 255;

    /// <summary>At or below this many byte symbols BPE is a plain rescan; above it a heap (HF's algorithm).</summary>
    internal const int SmallWordSymbols = 64;

    readonly string?[] _idToToken;
    readonly byte[]?[] _idToBytes;
    readonly bool[] _isSpecial;
    readonly Dictionary<string, int> _tokenToId;
    readonly int[] _byteToId = new int[256];
    readonly PairMap _merges;
    readonly int[] _mergeResult; // rank → merged id
    readonly AddedTokenMatcher _allAdded;
    readonly AddedTokenMatcher _nonSpecialAdded;
    readonly bool _addPrefixSpace;
    readonly bool _useRegex;
    readonly bool _ignoreMerges;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabLookup;
    readonly ThreadLocal<EncodeScratch> _scratch;

    /// <summary>Default number of words each thread's cache holds (two generations of half as many; see EncodeScratch).</summary>
    public const int DefaultWordCacheCapacity = 50_000;

    readonly int _wordCacheCapacity;

    /// <summary>Number of ids (highest id + 1), counting added tokens: 6400 for MiniMind.</summary>
    public int VocabSize { get; }

    /// <summary>Ids of the added tokens flagged <c>special</c>, ascending (MiniMind: 0, 1, 2).</summary>
    public IReadOnlyList<int> SpecialTokenIds { get; }

    /// <summary>Where the tokenizer was loaded from (a path, or the name given to <see cref="FromJson"/>).</summary>
    public string SourceName { get; }

    BpeTokenizer(TokenizerDefinition def, string source, int wordCacheCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(wordCacheCapacity);
        SourceName = source;
        _wordCacheCapacity = wordCacheCapacity;
        _addPrefixSpace = def.AddPrefixSpace;
        _useRegex = def.UseRegex;
        _ignoreMerges = def.IgnoreMerges;

        _tokenToId = new Dictionary<string, int>(def.Vocab, StringComparer.Ordinal);
        foreach (var t in def.AddedTokens) _tokenToId[t.Content] = t.Id;
        VocabSize = _tokenToId.Count == 0 ? 0 : _tokenToId.Values.Max() + 1;
        _idToToken = new string?[VocabSize];
        _idToBytes = new byte[]?[VocabSize];
        _isSpecial = new bool[VocabSize];
        foreach (var (token, id) in def.Vocab) _idToToken[id] = token;
        foreach (var t in def.AddedTokens)
        {
            _idToToken[t.Id] = t.Content;
            _isSpecial[t.Id] = t.Special;
        }
        for (var id = 0; id < VocabSize; id++)
            if (_idToToken[id] is { } token) _idToBytes[id] = ByteLevel.TokenBytes(token);
        SpecialTokenIds = Enumerable.Range(0, VocabSize).Where(i => _isSpecial[i]).ToArray();
        _vocabLookup = def.Vocab.GetAlternateLookup<ReadOnlySpan<char>>();

        for (var b = 0; b < 256; b++)
        {
            var ch = ByteLevel.ByteToChar[b].ToString();
            if (!def.Vocab.TryGetValue(ch, out _byteToId[b]))
                throw TokenizerJson.Error(source, "model.vocab", $"lacks the byte-level char '{ch}' (U+{(int)ch[0]:X4}) for byte 0x{b:X2}");
        }

        _merges = new PairMap(def.Merges.Count);
        _mergeResult = new int[def.Merges.Count];
        for (var rank = 0; rank < def.Merges.Count; rank++)
        {
            var (left, right) = def.Merges[rank];
            var field = $"model.merges[{rank}]";
            if (!def.Vocab.TryGetValue(left, out var l)) throw TokenizerJson.Error(source, field, $"token \"{left}\" is not in model.vocab");
            if (!def.Vocab.TryGetValue(right, out var r)) throw TokenizerJson.Error(source, field, $"token \"{right}\" is not in model.vocab");
            if (!def.Vocab.TryGetValue(left + right, out var m))
                throw TokenizerJson.Error(source, field, $"merged token \"{left + right}\" is not in model.vocab");
            _merges.Set(l, r, rank);
            _mergeResult[rank] = m;
        }

        _allAdded = new AddedTokenMatcher(def.AddedTokens.Select(t => (t.Content, t.Id)));
        _nonSpecialAdded = new AddedTokenMatcher(def.AddedTokens.Where(t => !t.Special).Select(t => (t.Content, t.Id)));
        _scratch = new ThreadLocal<EncodeScratch>(() => new EncodeScratch());
    }

    /// <summary>Loads a HuggingFace tokenizer.json. Throws <see cref="TokenizerFormatException"/> naming the
    /// file and field when it is malformed or uses a feature this class does not reproduce.
    /// <paramref name="wordCacheCapacity"/> bounds each thread's cache of encoded words (0 disables it).</summary>
    public static BpeTokenizer FromFile(string path, int wordCacheCapacity = DefaultWordCacheCapacity)
    {
        string json;
        try
        {
            json = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerFormatException(path, "(file)", $"cannot be read: {e.Message}", e);
        }
        return FromJson(json, path, wordCacheCapacity);
    }

    /// <summary>Builds a tokenizer from tokenizer.json text; <paramref name="sourceName"/> is used in errors.</summary>
    public static BpeTokenizer FromJson(string json, string sourceName = "tokenizer.json", int wordCacheCapacity = DefaultWordCacheCapacity) =>
        new(TokenizerJson.Parse(json, sourceName), sourceName, wordCacheCapacity);

    /// <summary>The id of a vocab or added-token string, or null.</summary>
    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;

    /// <summary>The vocab string of an id (byte-level alphabet, e.g. "Ġthe"), or null for an unknown id.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>True for the ids of added tokens flagged special.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_isSpecial.Length && _isSpecial[id];

    /// <summary>
    /// Token ids of <paramref name="text"/>, as HF <c>encode(text).ids</c> (= transformers <c>tokenizer(text).input_ids</c>).
    /// With <paramref name="splitSpecialTokens"/> special-token strings are tokenized as plain text
    /// (HF <c>encode_special_tokens</c> / transformers <c>split_special_tokens=True</c>); non-special added tokens still match.
    /// </summary>
    public int[] Encode(ReadOnlySpan<char> text, bool splitSpecialTokens = false)
    {
        var scratch = _scratch.Value!;
        scratch.Count = 0;
        EncodeCore(text, splitSpecialTokens, scratch);
        var ids = scratch.Ids.AsSpan(0, scratch.Count).ToArray();
        scratch.Trim();
        return ids;
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/> (see <see cref="Encode"/>).</summary>
    public void EncodeTo(ReadOnlySpan<char> text, List<int> ids, bool splitSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var scratch = _scratch.Value!;
        scratch.Count = 0;
        EncodeCore(text, splitSpecialTokens, scratch);
        ids.AddRange(scratch.Ids.AsSpan(0, scratch.Count));
        scratch.Trim();
    }

    /// <summary>
    /// Text of <paramref name="ids"/>, as HF <c>decode(ids, skip_special_tokens)</c>: tokens' bytes joined and
    /// decoded as UTF-8 (invalid sequences → U+FFFD). Ids outside the vocabulary are skipped, as HF does.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var scratch = _scratch.Value!;
        var length = 0;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_idToBytes.Length || _idToBytes[id] is not { } bytes) continue;
            if (skipSpecialTokens && _isSpecial[id]) continue;
            scratch.EnsureBytes(length + bytes.Length);
            bytes.CopyTo(scratch.Bytes.AsSpan(length));
            length += bytes.Length;
        }
        var text = Encoding.UTF8.GetString(scratch.Bytes, 0, length);
        scratch.Trim();
        return text;
    }

    void EncodeCore(ReadOnlySpan<char> text, bool splitSpecialTokens, EncodeScratch scratch)
    {
        var added = splitSpecialTokens ? _nonSpecialAdded : _allAdded;
        var pos = 0;
        while (pos < text.Length)
        {
            if (added.IsEmpty || !added.TryFind(text, pos, out var start, out var length, out var id))
            {
                EncodeSegment(text[pos..], scratch);
                return;
            }
            if (start > pos) EncodeSegment(text[pos..start], scratch);
            scratch.Add(id);
            pos = start + length;
        }
    }

    /// <summary>One stretch of text between added tokens: ByteLevel pre-tokenizer, then BPE per word.</summary>
    void EncodeSegment(ReadOnlySpan<char> segment, EncodeScratch scratch)
    {
        if (_addPrefixSpace && segment[0] != ' ')
        {
            // HF prepends one space to every segment that does not start with one.
            var prefixed = new char[segment.Length + 1];
            prefixed[0] = ' ';
            segment.CopyTo(prefixed.AsSpan(1));
            EncodeWords(prefixed, scratch);
            return;
        }
        EncodeWords(segment, scratch);
    }

    void EncodeWords(ReadOnlySpan<char> segment, EncodeScratch scratch)
    {
        if (!_useRegex)
        {
            EncodeWord(segment, scratch);
            return;
        }
        for (var i = 0; i < segment.Length;)
        {
            var end = Gpt2PreTokenizer.NextEnd(segment, i);
            EncodeWord(segment[i..end], scratch);
            i = end;
        }
    }

    void EncodeWord(ReadOnlySpan<char> word, EncodeScratch scratch)
    {
        if (word.Length == 1 && word[0] < 0x80)
        {
            scratch.Add(_byteToId[word[0]]);
            return;
        }
        var cacheable = word.Length <= MaxCachedWordChars && _wordCacheCapacity > 0;
        if (cacheable && scratch.TryGetCached(word, _wordCacheCapacity, out var cached))
        {
            scratch.AddRange(cached);
            return;
        }

        scratch.EnsureBytes(Encoding.UTF8.GetMaxByteCount(word.Length));
        var byteCount = Encoding.UTF8.GetBytes(word, scratch.Bytes); // lone surrogates → EF BF BD, as in Rust
        var bytes = scratch.Bytes.AsSpan(0, byteCount);
        scratch.EnsureSymbols(byteCount);
        var symbols = scratch.Symbols.AsSpan(0, byteCount);
        int count;
        if (_ignoreMerges && _vocabLookup.TryGetValue(ByteLevel.BytesToString(bytes), out var whole))
        {
            symbols[0] = whole;
            count = 1;
        }
        else
        {
            for (var k = 0; k < bytes.Length; k++) symbols[k] = _byteToId[bytes[k]];
            count = Merge(symbols, scratch);
        }

        var result = symbols[..count];
        if (cacheable) scratch.AddCached(word.ToString(), result.ToArray(), _wordCacheCapacity);
        scratch.AddRange(result);
    }

    /// <summary>Applies the merges to <paramref name="symbols"/> in place; returns how many symbols remain.</summary>
    internal int Merge(Span<int> symbols, EncodeScratch scratch) =>
        symbols.Length <= SmallWordSymbols ? MergeByRescan(symbols, scratch) : MergeByHeap(symbols, scratch);

    /// <summary>Short words: keep each adjacent pair's rank, repeatedly merge the lowest (leftmost on ties).</summary>
    internal int MergeByRescan(Span<int> symbols, EncodeScratch scratch)
    {
        var n = symbols.Length;
        if (n < 2) return n;
        scratch.EnsureRanks(n);
        var ranks = scratch.Ranks.AsSpan(0, n - 1);
        for (var k = 0; k < n - 1; k++) ranks[k] = _merges.Rank(symbols[k], symbols[k + 1]);
        while (n > 1)
        {
            var best = int.MaxValue;
            var at = -1;
            for (var k = 0; k < n - 1; k++)
            {
                if (ranks[k] < best)
                {
                    best = ranks[k];
                    at = k;
                }
            }
            if (at < 0) break;
            symbols[at] = _mergeResult[best];
            // Drop symbol at+1 and the pair rank that started there. A plain loop: these are a few ints, and a
            // Span.CopyTo call per merge (Buffer.Memmove) was the largest item of the data-prepare profile.
            for (var k = at + 1; k < n - 1; k++) symbols[k] = symbols[k + 1];
            for (var k = at + 1; k < n - 2; k++) ranks[k] = ranks[k + 1];
            n--;
            if (at > 0) ranks[at - 1] = _merges.Rank(symbols[at - 1], symbols[at]);
            if (at < n - 1) ranks[at] = _merges.Rank(symbols[at], symbols[at + 1]);
        }
        return n;
    }

    /// <summary>Long words: HF's algorithm, a min-heap of (rank, position) over a linked list of symbols;
    /// entries made stale by an earlier merge are skipped when popped.</summary>
    internal int MergeByHeap(Span<int> symbols, EncodeScratch scratch)
    {
        var n = symbols.Length;
        var next = new int[n];
        var prev = new int[n];
        for (var k = 0; k < n; k++)
        {
            next[k] = k + 1 < n ? k + 1 : -1;
            prev[k] = k - 1;
        }
        var removed = new bool[n];
        var heap = scratch.Heap;
        heap.Clear();
        for (var k = 0; k < n - 1; k++)
        {
            var rank = _merges.Rank(symbols[k], symbols[k + 1]);
            if (rank != int.MaxValue) heap.Enqueue(k, ((long)rank << 32) | (uint)k);
        }
        while (heap.TryDequeue(out var pos, out var priority))
        {
            var rank = (int)(priority >> 32);
            if (removed[pos] || next[pos] < 0) continue;
            var right = next[pos];
            if (_merges.Rank(symbols[pos], symbols[right]) != rank) continue; // stale
            symbols[pos] = _mergeResult[rank];
            removed[right] = true;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0)
            {
                var p = prev[pos];
                var r = _merges.Rank(symbols[p], symbols[pos]);
                if (r != int.MaxValue) heap.Enqueue(p, ((long)r << 32) | (uint)p);
            }
            if (next[pos] >= 0)
            {
                var r = _merges.Rank(symbols[pos], symbols[next[pos]]);
                if (r != int.MaxValue) heap.Enqueue(pos, ((long)r << 32) | (uint)pos);
            }
        }
        var count = 0;
        for (var k = 0; k >= 0; k = next[k]) symbols[count++] = symbols[k];
        return count;
    }

    /// <summary>Per-thread buffers and word cache, so concurrent Encode calls share nothing mutable.</summary>
    internal sealed class EncodeScratch
    {
        public int[] Ids = new int[1024];
        public int Count;
        public byte[] Bytes = new byte[1024];
        public int[] Symbols = new int[256];
        public int[] Ranks = new int[256];
        public readonly PriorityQueue<int, long> Heap = new();
        // The word cache, in two generations of up to capacity/2 words each. When the young one is full the old one
        // is dropped and the young one becomes old; a word found in the old generation moves back to the young one.
        // So the words a text keeps using survive a turnover, where clearing a single table lost all of them at once
        // (on a file where every line brings a new number, that was every ~50k lines).
        Dictionary<string, int[]> _young = new(StringComparer.Ordinal);
        Dictionary<string, int[]> _old = new(StringComparer.Ordinal);
        Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _youngLookup;
        Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _oldLookup;

        public EncodeScratch()
        {
            _youngLookup = _young.GetAlternateLookup<ReadOnlySpan<char>>();
            _oldLookup = _old.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        /// <summary>Words cached by this thread (both generations).</summary>
        public int CachedWords => _young.Count + _old.Count;

        public bool TryGetCached(ReadOnlySpan<char> word, int capacity, out int[] ids)
        {
            if (_youngLookup.TryGetValue(word, out ids!)) return true;
            if (_old.Count == 0 || !_oldLookup.TryGetValue(word, out var key, out ids!)) return false;
            AddCached(key, ids, capacity); // still in use: keep it through the next turnover
            return true;
        }

        public void AddCached(string word, int[] ids, int capacity)
        {
            if (_young.Count >= Math.Max(1, capacity / 2))
            {
                (_young, _old) = (_old, _young);
                _young.Clear();
                (_youngLookup, _oldLookup) = (_oldLookup, _youngLookup);
            }
            _young[word] = ids;
        }

        public void Add(int id)
        {
            if (Count == Ids.Length) Array.Resize(ref Ids, Ids.Length * 2);
            Ids[Count++] = id;
        }

        public void AddRange(ReadOnlySpan<int> ids)
        {
            if (Count + ids.Length > Ids.Length) Array.Resize(ref Ids, Math.Max(Ids.Length * 2, Count + ids.Length));
            ids.CopyTo(Ids.AsSpan(Count));
            Count += ids.Length;
        }

        /// <summary>Lets go of buffers a very long text grew, so idle threads do not hold megabytes.</summary>
        public void Trim()
        {
            const int Keep = 1 << 16;
            if (Ids.Length > Keep) Ids = new int[1024];
            if (Bytes.Length > Keep) Bytes = new byte[1024];
            if (Symbols.Length > Keep) Symbols = new int[256];
            if (Ranks.Length > Keep) Ranks = new int[256];
        }

        public void EnsureBytes(int n)
        {
            if (Bytes.Length < n) Array.Resize(ref Bytes, Math.Max(n, Bytes.Length * 2));
        }

        public void EnsureSymbols(int n)
        {
            if (Symbols.Length < n) Symbols = new int[Math.Max(n, Symbols.Length * 2)];
        }

        public void EnsureRanks(int n)
        {
            if (Ranks.Length < n) Ranks = new int[Math.Max(n, Ranks.Length * 2)];
        }
    }
}
