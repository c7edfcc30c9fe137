namespace MiniMind.Model.Checkpoints;

/// <summary>How a checkpoint stores MiniMind's tied output head.</summary>
public enum LmHeadLayout
{
    /// <summary>The file has no model.embed_tokens.weight (e.g. a LoRA-only file).</summary>
    NotApplicable,
    /// <summary>lm_head.weight and model.embed_tokens.weight share one storage (torch.save of a tied model).</summary>
    SharedStorage,
    /// <summary>lm_head.weight is omitted (safetensors); loaders re-tie it.</summary>
    Omitted,
    /// <summary>Two separate copies with equal values (MiniMind's fp16 trainer checkpoints); loaders re-tie them.</summary>
    EqualCopy,
    /// <summary>Two separate copies whose values differ: the file holds an untied head.</summary>
    DifferentCopy,
}
