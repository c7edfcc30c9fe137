namespace MiniMind.Model.Tokenizer;

/// <summary>
/// GPT-2's byte-level alphabet (<c>bytes_to_unicode</c> in HF tokenizers' <c>pre_tokenizers/byte_level.rs</c>):
/// every byte gets one printable char, so each vocab string is a sequence of bytes in disguise.
/// Printable bytes <c>!</c>..<c>~</c>, <c>¡</c>..<c>¬</c>, <c>®</c>..<c>ÿ</c> map to themselves; the other 68
/// bytes map to U+0100, U+0101, … in byte order (so space = <c>Ġ</c> U+0120, <c>\n</c> = <c>Ċ</c> U+010A).
/// </summary>
internal static class ByteLevel
{
    /// <summary>Byte → its alphabet char.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Alphabet char (all lie below U+0144) → byte, or -1 for chars outside the alphabet.</summary>
    static readonly short[] s_charToByte = BuildCharToByte();

    /// <summary>The byte <paramref name="c"/> stands for, or -1 if <paramref name="c"/> is not in the alphabet.</summary>
    public static int CharToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>The bytes a vocab string stands for: each char mapped back to its byte, or, as HF's ByteLevel
    /// decoder does, the string's own UTF-8 when any char is outside the alphabet (e.g. an added token "<c>é</c>").</summary>
    public static byte[] TokenBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            var b = CharToByte(token[i]);
            if (b < 0) return System.Text.Encoding.UTF8.GetBytes(token);
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    /// <summary>The alphabet string for a run of bytes (the vocab key of a byte sequence).</summary>
    public static string BytesToString(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (dst, src) =>
        {
            for (var i = 0; i < src.Length; i++) dst[i] = ByteToChar[src[i]];
        });
    }

    static bool IsSelfMapped(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
            map[b] = IsSelfMapped(b) ? (char)b : (char)next++;
        return map;
    }

    static short[] BuildCharToByte()
    {
        var map = new short[256 + 68];
        Array.Fill(map, (short)-1);
        for (var b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }
}
