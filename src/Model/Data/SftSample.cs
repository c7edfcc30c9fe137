using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// One <c>SFTDataset</c> item: conversation → roles by position → chat template → ids <c>[:max_length]</c>,
/// right-padded → <see cref="Data.LossMask.Generate"/> → <c>X</c>, <c>Y</c>, <c>loss_mask[1:]</c>.
/// </summary>
public sealed record SftSample(
    string Prompt, int[] PromptIds, bool Truncated, int[] InputIds, int[] LossMask, int[] X, int[] Y, int[] LossMaskShifted)
{
    /// <summary>From a rendered prompt and its untruncated ids.</summary>
    public static SftSample FromPromptIds(string prompt, int[] promptIds, int maxLength, SampleTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        ArgumentNullException.ThrowIfNull(tokens);
        var inputIds = Data.LossMask.TruncateOrPad(promptIds, maxLength, tokens.PadId);
        var mask = Data.LossMask.Generate(inputIds, tokens.AssistantStartIds, tokens.TurnEndIds, maxLength);
        return new SftSample(prompt, promptIds, promptIds.Length > maxLength, inputIds, mask,
            Data.LossMask.Inputs(inputIds), Data.LossMask.Targets(inputIds), Data.LossMask.Shifted(mask));
    }

    /// <summary>From the SFT jsonl form <c>conversations: [{"content": …}, …]</c> (even = user, odd = assistant).</summary>
    public static SftSample Build(BpeTokenizer tokenizer, IReadOnlyList<string?> conversation, int maxLength, SampleTokens tokens) =>
        Build(tokenizer, ChatMessage.FromConversation(conversation), maxLength, tokens);

    /// <summary>From messages that already carry roles.</summary>
    public static SftSample Build(BpeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages, int maxLength, SampleTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var prompt = ChatTemplate.Render(messages, addGenerationPrompt: false);
        return FromPromptIds(prompt, tokenizer.Encode(prompt), maxLength, tokens);
    }
}
