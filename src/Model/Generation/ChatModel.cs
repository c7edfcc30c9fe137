using MiniMind.Model.Tokenizer;

namespace MiniMind.Model;

/// <summary>
/// A model and its tokenizer answering conversations as MiniMind's eval_model.py does: chat weights (SFT, RLHF,
/// reason) get the chat template with every message; pretrain weights (<see cref="RawText"/>) have no chat ability
/// and continue <c>bos_token + the last user message</c>. Not thread-safe: one reply at a time.
/// </summary>
public sealed class ChatModel(MiniMindForCausalLM model, BpeTokenizer tokenizer, bool rawText)
{
    public MiniMindForCausalLM Model { get; } = model;
    public BpeTokenizer Tokenizer { get; } = tokenizer;
    public bool RawText { get; } = rawText;

    /// <summary>The prompt ids for <paramref name="messages"/> (the template errors of <see cref="ChatTemplate"/> apply).</summary>
    public int[] EncodePrompt(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) throw new ChatTemplateException("messages is empty");
        var text = RawText
            ? MiniMindSpecialTokens.ImStart + (messages.LastOrDefault(m => m.Role == "user")?.Content ?? messages[^1].Content ?? "")
            : ChatTemplate.Render(messages, addGenerationPrompt: true);
        return Tokenizer.Encode(text);
    }

    /// <summary>Streams the reply as text pieces (special tokens skipped, as TextStreamer(skip_special_tokens=True));
    /// a piece is yielded once it decodes to whole characters. <paramref name="usage"/> is complete after the last piece.</summary>
    public IEnumerable<string> Stream(IReadOnlyList<ChatMessage> messages, GenerationOptions options, ChatUsage usage)
    {
        var prompt = EncodePrompt(messages);
        usage.PromptTokens = prompt.Length;
        var room = Model.Config.MaxPositionEmbeddings - prompt.Length;
        if (room <= 0)
            throw new ArgumentException($"the prompt has {prompt.Length} tokens; the model's context (max_position_embeddings) is {Model.Config.MaxPositionEmbeddings}");
        var decoder = new TextDeltaDecoder(Tokenizer);
        long last = -1;
        foreach (var id in Generator.Stream(Model, prompt.Select(i => (long)i).ToArray(), options))
        {
            usage.CompletionTokens++;
            last = id;
            var piece = decoder.Add((int)id);
            if (piece.Length > 0) yield return piece;
        }
        usage.FinishReason = options.EosTokenId is { } eos && last == eos ? "stop" : "length";
    }

    /// <summary>The whole reply at once.</summary>
    public string Reply(IReadOnlyList<ChatMessage> messages, GenerationOptions options, ChatUsage usage) =>
        string.Concat(Stream(messages, options, usage));
}
