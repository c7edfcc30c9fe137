namespace MiniMind.Model.Checkpoints;

/// <summary>How <see cref="StateDictLoader.LoadInto"/> matches a checkpoint to a module.</summary>
public sealed record StateDictLoadOptions
{
    /// <summary>Default true, as PyTorch's load_state_dict(strict=True): any missing or unexpected key fails.
    /// False loads the keys that match and reports the others in the result. Shape mismatches always fail.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Default false: when a checkpoint holds both keys of a tied weight (<c>model.embed_tokens.weight</c>
    /// and <c>lm_head.weight</c> as separate copies, as MiniMind's fp16 trainer checkpoints do) and their values
    /// differ, loading fails, since the module can hold only one of them. True takes the copy PyTorch's
    /// load_state_dict would leave in place, the later key in module order (for MiniMind, <c>lm_head.weight</c>),
    /// and reports it in <see cref="StateDictLoadResult.Notes"/>.</summary>
    public bool AllowDifferingTiedCopies { get; init; }

    public static StateDictLoadOptions Default { get; } = new();
}
