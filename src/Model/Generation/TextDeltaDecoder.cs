using MiniMind.Model.Tokenizer;

namespace MiniMind.Model;

/// <summary>Turns a growing list of token ids into text pieces: decodes everything so far and yields the new suffix,
/// holding back a trailing incomplete UTF-8 sequence (decoded as U+FFFD) until it completes.</summary>
public sealed class TextDeltaDecoder(BpeTokenizer tokenizer)
{
    readonly List<int> ids = [];
    string printed = "";

    public string Text => printed;

    public string Add(int id)
    {
        ids.Add(id);
        var text = tokenizer.Decode(ids.ToArray(), skipSpecialTokens: true);
        if (text.EndsWith('\uFFFD') || !text.StartsWith(printed, StringComparison.Ordinal)) return "";
        var piece = text[printed.Length..];
        printed = text;
        return piece;
    }
}
