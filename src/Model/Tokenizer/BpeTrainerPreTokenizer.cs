// Mirrors the pre-tokenizer used by jingyaogong/minimind scripts/train_tokenizer.py @ 561979c:
// HF tokenizers' ByteLevel(add_prefix_space=False, use_regex=True), i.e. the GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// run by Oniguruma on Unicode code points. .NET Regex works on UTF-16 code units (astral letters
// become Cs surrogates), so the alternation is written out by hand over Runes.
// The encoder side (BpeTokenizer, written separately) has its own copy; the two are to be unified.
using System.Globalization;
using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>Splits text into GPT-2/ByteLevel pre-tokens, classifying each Unicode code point.</summary>
public static class BpeTrainerPreTokenizer
{
    enum Kind : byte { Letter, Number, Space, Other }

    /// <summary>Calls <paramref name="onPiece"/> with (start, length) in UTF-16 units for each pre-token, in order.
    /// The pieces tile <paramref name="text"/> exactly (no gaps, no overlaps).</summary>
    public static void Split(ReadOnlySpan<char> text, Action<int, int> onPiece)
    {
        var pos = 0;
        while (pos < text.Length)
        {
            var len = NextPiece(text, pos);
            onPiece(pos, len);
            pos += len;
        }
    }

    /// <summary>The pre-tokens of <paramref name="text"/> as strings (convenience for tests and tools).</summary>
    public static List<string> Split(string text)
    {
        var pieces = new List<string>();
        Split(text, (start, length) => pieces.Add(text.Substring(start, length)));
        return pieces;
    }

    /// <summary>Length in UTF-16 units of the pre-token that starts at <paramref name="pos"/> (pos &lt; text.Length).</summary>
    public static int NextPiece(ReadOnlySpan<char> text, int pos)
    {
        var (c, cLen) = Decode(text, pos);

        // 's 't 're 've 'm 'll 'd  (case-sensitive, ASCII apostrophe only)
        if (c == '\'' && pos + 1 < text.Length)
        {
            var a = text[pos + 1];
            if (a is 's' or 't' or 'm' or 'd') return 2;
            if (pos + 2 < text.Length)
            {
                var b = text[pos + 2];
                if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
            }
        }

        var kind = Classify(c);

        //  ?\p{L}+   ?\p{N}+   ?[^\s\p{L}\p{N}]+  — the optional prefix is U+0020 only.
        if (c == ' ' && pos + cLen < text.Length)
        {
            var (n, _) = Decode(text, pos + cLen);
            var nextKind = Classify(n);
            if (nextKind != Kind.Space) return cLen + Run(text, pos + cLen, nextKind);
        }
        if (kind != Kind.Space) return Run(text, pos, kind);

        // \s+(?!\S) then \s+ : a whitespace run keeps its last char for the next token when
        // a non-space follows, unless the run is a single char (then \s+ takes it alone).
        var end = pos + Run(text, pos, Kind.Space);
        if (end == text.Length) return end - pos;
        var lastStart = end - 1; // every whitespace code point is in the BMP: one UTF-16 unit
        return lastStart > pos ? lastStart - pos : end - pos;
    }

    /// <summary>Length of the maximal run of code points of <paramref name="kind"/> starting at <paramref name="pos"/>.</summary>
    static int Run(ReadOnlySpan<char> text, int pos, Kind kind)
    {
        var i = pos;
        while (i < text.Length)
        {
            var (c, cLen) = Decode(text, i);
            if (Classify(c) != kind) break;
            i += cLen;
        }
        return i - pos;
    }

    static (int CodePoint, int Length) Decode(ReadOnlySpan<char> text, int pos)
    {
        var ch = text[pos];
        if (ch < 0x80) return (ch, 1);
        if (Rune.DecodeFromUtf16(text[pos..], out var rune, out var consumed) == System.Buffers.OperationStatus.Done)
            return (rune.Value, consumed);
        return (ch, 1); // lone surrogate: its own "other" code unit (becomes U+FFFD bytes later)
    }

    static Kind Classify(int cp)
    {
        if (cp < 0x80)
        {
            if (cp is >= 'a' and <= 'z' or >= 'A' and <= 'Z') return Kind.Letter;
            if (cp is >= '0' and <= '9') return Kind.Number;
            if (cp is ' ' or >= 0x09 and <= 0x0D) return Kind.Space;
            return Kind.Other;
        }
        if (cp is >= 0xD800 and <= 0xDFFF) return Kind.Other; // lone surrogate
        if (cp == 0x85) return Kind.Space;
        switch (Rune.GetUnicodeCategory(new Rune(cp)))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return Kind.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return Kind.Number;
            case UnicodeCategory.SpaceSeparator:
            case UnicodeCategory.LineSeparator:
            case UnicodeCategory.ParagraphSeparator:
                return Kind.Space;
            default:
                return Kind.Other;
        }
    }
}
