namespace MiniMind.Model.Tokenizer;

/// <summary>
/// The special-token ids MiniMind's <c>tokenizer_config.json</c> names (they are not in tokenizer.json):
/// <c>bos_token</c> <c>&lt;|im_start|&gt;</c>, <c>eos_token</c> <c>&lt;|im_end|&gt;</c>, and
/// <c>pad_token</c> = <c>unk_token</c> = <c>&lt;|endoftext|&gt;</c>. For MiniMind's vocab: 1, 2 and 0.
/// </summary>
public sealed record MiniMindSpecialTokens(int PadId, int BosId, int EosId)
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    /// <summary>Looks the three strings up in <paramref name="tokenizer"/>.</summary>
    public static MiniMindSpecialTokens From(BpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int Id(string token) => tokenizer.TokenToId(token)
            ?? throw new InvalidOperationException($"{tokenizer.SourceName}: no token {token} (MiniMind's tokenizer_config.json names it)");
        return new MiniMindSpecialTokens(PadId: Id(EndOfText), BosId: Id(ImStart), EosId: Id(ImEnd));
    }
}
