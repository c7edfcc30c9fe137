namespace MiniMind.Model.Tokenizer;

/// <summary>A trained byte-level BPE model: what <see cref="BpeTrainerJsonWriter"/> writes to tokenizer.json.</summary>
/// <param name="Vocab">Token string by id: the special tokens, then the 256 byte chars sorted by code point,
/// then the merge results in merge order.</param>
/// <param name="Merges">Merges in rank order.</param>
/// <param name="SpecialTokenCount">Ids 0 … SpecialTokenCount-1 are the special (added) tokens.</param>
public sealed record BpeTrainerResult(IReadOnlyList<string> Vocab, IReadOnlyList<BpeTrainerResult.Merge> Merges, int SpecialTokenCount)
{
    /// <summary>One merge rule: <paramref name="Left"/> + <paramref name="Right"/> → token <paramref name="Id"/>.</summary>
    public readonly record struct Merge(string Left, string Right, int Id);

    /// <summary>The special tokens (ids 0 … SpecialTokenCount-1).</summary>
    public IEnumerable<string> SpecialTokens => Vocab.Take(SpecialTokenCount);
}
