using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>
/// MiniMind's <c>--from_weight</c>: where a stage's initial weights come from. <c>none</c> is a seeded random init; a
/// weight name (<c>pretrain</c>, <c>full_sft</c>, <c>rlhf</c>, <c>reason</c>, …) is <c>&lt;run dir&gt;/&lt;name&gt;_&lt;hidden&gt;[_moe].pth</c>,
/// as MiniMind's <c>init_model</c> resolves it in its save_dir; anything else is a file, a .pth (float32, or MiniMind's
/// float16 <c>{k: v.half()}</c> layout, or a resume dict's <c>model</c>) or a .safetensors. An explicit file or name is
/// loaded once here against the config, so a wrong file fails before the run starts, with the loader's error.
/// </summary>
public static class FromWeight
{
    /// <summary>The initial weights' path, or null for a random init.</summary>
    /// <param name="value">--from-weight, or null for the stage's default (the previous stage's output).</param>
    public static string? Resolve(string? value, TrainingStage stage, string runDir, MiniMindConfig config)
    {
        if (value is null) return stage.InitFrom is { } from ? Path.Combine(runDir, TrainingSettings.OutputName(from, config)) : null;
        if (value.Length == 0) throw new ArgumentException("--from-weight: expected none, a weight name (pretrain, full_sft, …) or a .pth/.safetensors file");
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        if (IsName(value)) return Path.Combine(runDir, TrainingSettings.OutputName(value, config.HiddenSize, config.UseMoe));
        return value;
    }

    /// <summary>A bare weight name (no directory, no .pth/.safetensors extension) rather than a file.</summary>
    public static bool IsName(string value) =>
        value.IndexOfAny(['/', '\\']) < 0 && !value.EndsWith(".pth", StringComparison.OrdinalIgnoreCase)
        && !value.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && !File.Exists(value);

    /// <summary>Checks that <paramref name="path"/> exists and loads into a model of <paramref name="config"/>: a missing
    /// file is a FileNotFoundException, a bad one the loader's CheckpointFormat/StateDictMismatch exception naming it.</summary>
    public static void Check(string value, string path, MiniMindConfig config)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException(IsName(value)
                ? $"--from-weight {value}: {path} does not exist (a weight name means <run dir>/<name>_<hidden>[_moe].pth, as MiniMind's save_dir)"
                : $"--from-weight {value}: file not found", path);
        using var scope = NewDisposeScope();
        var rng = get_rng_state();   // the probe's init must not move torch's generator (a worker seeds it anyway)
        try
        {
            using var probe = new MiniMindForCausalLM(config);
            StateDictLoader.LoadFile(probe, path);
        }
        finally
        {
            set_rng_state(rng);
        }
    }
}
