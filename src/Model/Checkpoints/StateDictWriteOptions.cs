using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>How <see cref="StateDictFile.Write"/> writes a state dict.</summary>
public sealed record StateDictWriteOptions
{
    /// <summary>Default null: keep every tensor's dtype. Set ScalarType.Float16 to write float16 like MiniMind's
    /// trainers (<c>torch.save({k: v.half()})</c>); only floating-point tensors are converted.</summary>
    public ScalarType? FloatDType { get; init; }

    /// <summary>Default true. <c>lm_head.weight</c> that holds the same values as <c>model.embed_tokens.weight</c>
    /// is written as the tied weight even when the two are separate tensors: in a .pth both keys then share one
    /// storage (as torch.save writes a tied model), and a .safetensors file omits <c>lm_head.weight</c> (as
    /// safetensors requires; loaders re-tie it). False writes <c>lm_head.weight</c> as its own copy even when it
    /// is the same tensor as the embedding, as MiniMind's trainers do (in both formats). Other tensors that
    /// share storage are written sharing it either way.</summary>
    public bool TieLmHead { get; init; } = true;

    /// <summary>Extra safetensors <c>__metadata__</c> entries (<c>format: pt</c> is always written). Ignored for .pth.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public static StateDictWriteOptions Default { get; } = new();

    /// <summary>The layout MiniMind's trainers save: float16, two separate copies of the tied weight.</summary>
    public static StateDictWriteOptions MiniMindHalf { get; } = new() { FloatDType = ScalarType.Float16, TieLmHead = false };
}
