using System.Buffers;

namespace MiniMind.Model.Tokenizer;

/// <summary>
/// Finds added tokens (<c>&lt;|im_start|&gt;</c>…) in raw text, leftmost-longest, as HF's
/// <c>AddedVocabulary</c> does with aho-corasick before pre-tokenization. There are only a handful of
/// tokens, so a vectorized scan for their first chars plus ordinal prefix checks is enough.
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly SearchValues<char> _firstChars;
    readonly Dictionary<char, (string Content, int Id)[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<(string Content, int Id)> tokens)
    {
        _byFirstChar = tokens
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
        IsEmpty = _byFirstChar.Count == 0;
    }

    public bool IsEmpty { get; }

    /// <summary>The leftmost match at or after <paramref name="from"/>, longest among those starting there.</summary>
    public bool TryFind(ReadOnlySpan<char> text, int from, out int start, out int length, out int id)
    {
        while (from < text.Length)
        {
            var k = text[from..].IndexOfAny(_firstChars);
            if (k < 0) break;
            start = from + k;
            foreach (var (content, tokenId) in _byFirstChar[text[start]])
            {
                if (text[start..].StartsWith(content, StringComparison.Ordinal))
                {
                    length = content.Length;
                    id = tokenId;
                    return true;
                }
            }
            from = start + 1;
        }
        start = length = id = -1;
        return false;
    }
}
