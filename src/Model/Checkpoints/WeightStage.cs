using System.Globalization;
using System.Text.RegularExpressions;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A training stage's output file in a run directory, named as MiniMind's trainers save it:
/// <c>&lt;prefix&gt;_&lt;hidden_size&gt;[_moe].pth</c>. eval_model.py's <c>--model_mode</c> picks the prefix:
/// 0 pretrain, 1 full_sft, 2 rlhf (DPO), 3 reason; distillation writes full_dist.
/// </summary>
public sealed record WeightStage(string Name, string FilePrefix)
{
    public static WeightStage Pretrain { get; } = new("pretrain", "pretrain");
    public static WeightStage Sft { get; } = new("sft", "full_sft");
    public static WeightStage Rlhf { get; } = new("rlhf", "rlhf");
    public static WeightStage Reason { get; } = new("reason", "reason");
    public static WeightStage Distill { get; } = new("distill", "full_dist");

    /// <summary>The stage names <see cref="Parse"/> accepts.</summary>
    public const string Names = "pretrain|sft|rlhf|dpo|reason|distill";

    /// <summary>pretrain, sft, rlhf (dpo is an alias: MiniMind's DPO trainer saves rlhf_*.pth), reason, distill.</summary>
    public static WeightStage Parse(string name) => name.ToLowerInvariant() switch
    {
        "pretrain" => Pretrain,
        "sft" or "full_sft" => Sft,
        "rlhf" or "dpo" => Rlhf,
        "reason" => Reason,
        "distill" or "full_dist" => Distill,
        _ => throw new ArgumentException($"unknown stage '{name}': use {Names}"),
    };

    /// <summary>eval_model.py's model_mode: 0 pretrain, 1 SFT, 2 RLHF, 3 reason.</summary>
    public static WeightStage FromModelMode(int mode) => mode switch
    {
        0 => Pretrain,
        1 => Sft,
        2 => Rlhf,
        3 => Reason,
        _ => throw new ArgumentException($"--model-mode {mode}: use 0 (pretrain), 1 (SFT), 2 (RLHF/DPO) or 3 (reason)"),
    };

    /// <summary>Pretrain weights continue raw text; every later stage answers in the chat template.</summary>
    public bool IsChat => this != Pretrain;

    public string FileName(MiniMindConfig config) =>
        string.Create(CultureInfo.InvariantCulture, $"{FilePrefix}_{config.HiddenSize}{(config.UseMoe ? "_moe" : "")}.pth");

    /// <summary>The stage's file in <paramref name="runDir"/>: the name <paramref name="config"/> gives, or without a
    /// config the single <c>&lt;prefix&gt;_&lt;N&gt;[_moe].pth</c> there. Missing → FileNotFoundException listing what
    /// the directory holds; several candidates → ArgumentException asking for a config.</summary>
    public string Find(string runDir, MiniMindConfig? config)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        if (config is not null)
        {
            var path = Path.Combine(runDir, FileName(config));
            return File.Exists(path) ? path : throw Missing(runDir, FileName(config));
        }
        var pattern = new Regex("^" + Regex.Escape(FilePrefix) + @"_\d+(_moe)?\.pth$", RegexOptions.CultureInvariant);
        var found = Directory.GetFiles(runDir, "*.pth").Where(f => pattern.IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal).ToList();
        return found.Count switch
        {
            1 => found[0],
            0 => throw Missing(runDir, FilePrefix + "_<hidden>[_moe].pth"),
            _ => throw new ArgumentException($"{runDir} holds several {Name} weights ({string.Join(", ", found.Select(Path.GetFileName))}): pass --config to pick one"),
        };
    }

    FileNotFoundException Missing(string runDir, string wanted)
    {
        var present = Directory.GetFiles(runDir, "*.pth").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var path = Path.Combine(runDir, wanted);
        return new FileNotFoundException(
            $"{path} not found ({Name} weights); the run directory holds {(present.Count == 0 ? "no .pth files" : string.Join(", ", present))}");
    }
}
