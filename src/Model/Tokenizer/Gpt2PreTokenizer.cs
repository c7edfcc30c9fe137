using System.Globalization;
using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>
/// The split of HF tokenizers' ByteLevel pre-tokenizer (<c>use_regex: true</c>), written out by hand over
/// Unicode code points. HF runs this GPT-2 pattern with Oniguruma on code points:
/// <code>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</code>
/// .NET's <c>Regex</c> works on UTF-16 code units, so an astral letter or digit (𠀀, 𝐀, 𝟙) would be a
/// pair of surrogates (category Cs) and land in the punctuation class; classifying by <see cref="Rune"/>
/// avoids that (see ../shared/fixtures/tokenizer/README.md, "Why the regex differs").
/// <list type="bullet">
/// <item>letter = L* (Lu Ll Lt Lm Lo); number = Nd Nl No;</item>
/// <item>whitespace = U+0009–U+000D, U+0085, Zs, Zl, Zp (not U+001C–U+001F, U+200B, U+180E, U+FEFF);</item>
/// <item>contractions are case-sensitive; the optional prefix is U+0020 only;</item>
/// <item>a lone surrogate is classed as U+FFFD (So, "other"), which is what it becomes in UTF-8.</item>
/// </list>
/// </summary>
internal static class Gpt2PreTokenizer
{
    internal enum CharClass : byte { Other = 0, Letter = 1, Number = 2, Space = 3, HighSurrogate = 4 }

    /// <summary>Class of every BMP char; high surrogates are resolved with the next char.</summary>
    static readonly CharClass[] s_bmp = BuildBmpTable();

    /// <summary>End (exclusive) of the pre-token that starts at <paramref name="i"/> (&lt; s.Length).</summary>
    public static int NextEnd(ReadOnlySpan<char> s, int i)
    {
        var c = s[i];
        if (c == '\'' && i + 1 < s.Length)
        {
            // 's 't 'm 'd 're 've 'll, lower case only.
            var d = s[i + 1];
            if (d is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < s.Length)
            {
                var e = s[i + 2];
                if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
            }
        }

        var cls = Classify(s, i, out var width);
        if (c == ' ' && i + 1 < s.Length)
        {
            // " ?X+": a single U+0020 joins the letter / number / other run that follows it.
            var nextCls = Classify(s, i + 1, out var nextWidth);
            if (nextCls != CharClass.Space)
            {
                i++;
                cls = nextCls;
                width = nextWidth;
            }
        }

        if (cls != CharClass.Space)
        {
            i += width;
            while (i < s.Length && Classify(s, i, out width) == cls) i += width;
            return i;
        }

        // \s+(?!\S) then \s+: a whitespace run ending the text is taken whole; one followed by a
        // non-space gives up its last code point (which then prefixes the next word), unless it has only one.
        var count = 0;
        var last = i;
        while (i < s.Length && Classify(s, i, out width) == CharClass.Space)
        {
            last = i;
            i += width;
            count++;
        }
        return i == s.Length || count == 1 ? i : last;
    }

    /// <summary>Class of the code point at <paramref name="i"/>, and its UTF-16 length.</summary>
    internal static CharClass Classify(ReadOnlySpan<char> s, int i, out int width)
    {
        var cls = s_bmp[s[i]];
        width = 1;
        if (cls != CharClass.HighSurrogate) return cls;
        if (i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            width = 2;
            return Categorize(Rune.GetUnicodeCategory(new Rune(s[i], s[i + 1])));
        }
        return CharClass.Other; // lone high surrogate: U+FFFD once in UTF-8
    }

    static CharClass Categorize(UnicodeCategory cat) => cat switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharClass.Letter,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharClass.Number,
        UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => CharClass.Space,
        _ => CharClass.Other,
    };

    static CharClass[] BuildBmpTable()
    {
        var table = new CharClass[0x10000];
        for (var c = 0; c < table.Length; c++)
        {
            table[c] = c switch
            {
                >= 0x09 and <= 0x0D or 0x85 => CharClass.Space,
                >= 0xD800 and <= 0xDBFF => CharClass.HighSurrogate,
                >= 0xDC00 and <= 0xDFFF => CharClass.Other, // lone low surrogate
                _ => Categorize(CharUnicodeInfo.GetUnicodeCategory((char)c)),
            };
        }
        return table;
    }
}
