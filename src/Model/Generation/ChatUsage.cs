namespace MiniMind.Model;

/// <summary>Token counts and stop reason of one reply, filled in while it streams.</summary>
public sealed class ChatUsage
{
    public int PromptTokens { get; internal set; }
    public int CompletionTokens { get; internal set; }
    /// <summary>"stop" (the model emitted eos), "length" (max tokens or the context ran out); null while streaming.</summary>
    public string? FinishReason { get; internal set; }
}
