// The pre-tokenizer of jingyaogong/minimind scripts/train_tokenizer.py @ 561979c is HF tokenizers'
// ByteLevel(add_prefix_space=False, use_regex=True): the same GPT-2 split the encoder uses, so the trainer
// calls the encoder's hand-written, code-point-exact implementation (Gpt2PreTokenizer).
namespace MiniMind.Model.Tokenizer;

/// <summary>Splits text into GPT-2/ByteLevel pre-tokens (see <see cref="Gpt2PreTokenizer"/>).</summary>
public static class BpeTrainerPreTokenizer
{
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
    public static int NextPiece(ReadOnlySpan<char> text, int pos) => Gpt2PreTokenizer.NextEnd(text, pos) - pos;
}
