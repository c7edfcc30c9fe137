namespace MiniMind.Model.Tokenizer;

/// <summary>Settings of <see cref="BpeTrainer"/>; the defaults are those of MiniMind's scripts/train_tokenizer.py.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Default 6400. Final vocab size, special tokens and the 256 byte chars included.</summary>
    public int VocabSize { get; init; } = 6400;

    /// <summary>Default 0 (HF's default). A pair seen fewer times than this is never merged.</summary>
    public long MinFrequency { get; init; }

    /// <summary>Default <c>&lt;|endoftext|&gt;</c>, <c>&lt;|im_start|&gt;</c>, <c>&lt;|im_end|&gt;</c>: ids 0, 1, 2.
    /// During training they are plain text (as in HF, whose trainer adds them only to the result).</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
}
