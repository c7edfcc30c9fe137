using System.Text.Json.Serialization;
using MiniMind.Model;

namespace MiniMind.Actors;

/// <summary>The GRPO stage's own arguments (MiniMind's train_grpo.py argparse defaults); part of the run's identity.</summary>
public sealed record GrpoSettings
{
    /// <summary>6: completions per prompt (a group; advantages are normalised within it).</summary>
    public int NumGenerations { get; init; } = 6;
    /// <summary>0.1: weight of the k3 KL to the frozen reference.</summary>
    public double Beta { get; init; } = 0.1;
    /// <summary>cispo (default) or grpo.</summary>
    public string LossType { get; init; } = "cispo";
    /// <summary>0.2: GRPO's clip range 1 ± ε.</summary>
    public double Epsilon { get; init; } = 0.2;
    /// <summary>5.0: CISPO's upper clamp of the ratio.</summary>
    public double EpsilonHigh { get; init; } = 5.0;
    /// <summary>1024: most tokens a completion has.</summary>
    public int MaxGenLen { get; init; } = 1024;
    /// <summary>0.9: the share of prompts that open a &lt;think&gt; block (the rest get an empty one).</summary>
    public double ThinkingRatio { get; init; } = 0.9;
    /// <summary>0.8: the rollout's sampling temperature (MiniMind's rollout engine; top-k 50 and top-p 0.85 from its generate).</summary>
    public double Temperature { get; init; } = 0.8;
    /// <summary>An external reward model's endpoint (<c>--reward-url</c>, see README: reward protocol); null: rule rewards only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RewardUrl { get; init; }

    [JsonIgnore] public GrpoHyper Hyper => new(GrpoHyper.ParseLossType(LossType), Beta, Epsilon, EpsilonHigh);

    [JsonIgnore] public RolloutOptions Rollout => new(NumGenerations, MaxGenLen, Temperature);
}
