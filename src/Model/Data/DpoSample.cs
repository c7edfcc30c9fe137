using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>One <c>DPODataset</c> item: the chosen and rejected conversations, each rendered and masked alike.</summary>
public sealed record DpoSample(DpoSide Chosen, DpoSide Rejected)
{
    public static DpoSample Build(
        BpeTokenizer tokenizer, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected, int maxLength, SampleTokens tokens) =>
        new(DpoSide.Build(tokenizer, chosen, maxLength, tokens), DpoSide.Build(tokenizer, rejected, maxLength, tokens));
}
