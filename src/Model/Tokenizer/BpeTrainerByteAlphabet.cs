using System.Text;

namespace MiniMind.Model.Tokenizer;

/// <summary>GPT-2's <c>bytes_to_unicode</c> table, as HF's ByteLevel pre-tokenizer uses it: each byte maps to
/// one printable char. Printable Latin-1 bytes (<c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c>) map to
/// themselves; the other 68 bytes map to U+0100, U+0101, … in byte order (space → <c>Ġ</c>, <c>\n</c> → <c>Ċ</c>).</summary>
public static class BpeTrainerByteAlphabet
{
    /// <summary>Byte value → its alphabet char.</summary>
    public static IReadOnlyList<char> ByteToChar { get; } = Build();

    /// <summary>The 256 alphabet chars sorted by code point (the order HF gives them ids 3…258 after the special tokens).</summary>
    public static IReadOnlyList<char> SortedAlphabet { get; } = [.. ByteToChar.Order()];

    static char[] Build()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The UTF-8 bytes of <paramref name="text"/> written with the alphabet (invalid UTF-16 becomes U+FFFD).</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(text.Length);
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        var n = Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(n, bytes[..n].ToArray(), static (dst, src) =>
        {
            for (var i = 0; i < src.Length; i++) dst[i] = BpeTrainerByteAlphabet.ByteToChar[src[i]];
        });
    }
}
