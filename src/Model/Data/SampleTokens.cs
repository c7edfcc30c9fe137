using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data;

/// <summary>
/// The ids MiniMind's datasets derive from the tokenizer once, in their constructors (dataset/lm_dataset.py):
/// <c>pad_token_id</c>, <c>bos_id = tokenizer('&lt;|im_start|&gt;assistant').input_ids</c> (the assistant header,
/// MiniMind: [1, 1078, 538, 501]) and <c>eos_id = tokenizer('&lt;|im_end|&gt;').input_ids</c> ([2]).
/// </summary>
public sealed record SampleTokens(int PadId, int[] AssistantStartIds, int[] TurnEndIds)
{
    public static SampleTokens From(BpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var special = MiniMindSpecialTokens.From(tokenizer);
        return new SampleTokens(
            special.PadId,
            tokenizer.Encode(MiniMindSpecialTokens.ImStart + "assistant"),
            tokenizer.Encode(MiniMindSpecialTokens.ImEnd));
    }
}
