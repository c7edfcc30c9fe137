using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>One side (chosen or rejected) of a <see cref="DpoSample"/>: <c>x_S</c>, <c>y_S</c>, <c>mask_S</c> and what they come from.</summary>
public sealed record DpoSide(string Prompt, int[] PromptIds, int[] InputIds, int[] LossMask, int[] X, int[] Y, int[] Mask)
{
    /// <summary>Render (roles respected), encode with right truncation and padding to <paramref name="maxLength"/>, mask.</summary>
    public static DpoSide Build(BpeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, int maxLength, SampleTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(tokens);
        var prompt = ChatTemplate.Render(messages, addGenerationPrompt: false);
        var promptIds = tokenizer.Encode(prompt);
        var inputIds = Data.LossMask.TruncateOrPad(promptIds, maxLength, tokens.PadId);
        var mask = Data.LossMask.Generate(inputIds, tokens.AssistantStartIds, tokens.TurnEndIds, maxLength);
        return new DpoSide(prompt, promptIds, inputIds, mask,
            Data.LossMask.Inputs(inputIds), Data.LossMask.Targets(inputIds), Data.LossMask.Shifted(mask));
    }
}
