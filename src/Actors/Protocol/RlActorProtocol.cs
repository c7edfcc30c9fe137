namespace MiniMind.Actors.Protocol;

/// <summary>Read-only query to a <see cref="Rl.RolloutActor"/> or <see cref="Rl.RewardActor"/> (the node inspector,
/// <c>ctl actor health</c>): answered from memory with <see cref="RlActorState"/>, also while it waits for a service.</summary>
public sealed record FetchRlActorState
{
    public static FetchRlActorState Instance { get; } = new();
}

/// <summary>One rollout or reward actor as <c>ctl actor health</c> shows it (part of a node's report, so it crosses the
/// cluster). <paramref name="Kind"/>: rollout or reward. <paramref name="State"/>: idle, rolling out, scoring, or waiting
/// (for the reward service). <paramref name="InFlight"/>: completions being generated or scored now; <paramref name="Done"/>:
/// completions finished so far; <paramref name="LastSeconds"/>: the last micro-batch's rollout or scoring time (null: none
/// yet); <paramref name="TokensPerSecond"/>: the rollouts' generated tokens per second (rollout actors); <paramref name="Models"/>:
/// the reward models (rule, http); <paramref name="Breaker"/>: the reward service's circuit breaker (closed, retrying, open;
/// null without a service).</summary>
public sealed record RlActorState(string Path, string Kind, string State, int InFlight, long Done, double? LastSeconds,
    double TokensPerSecond = 0, string? Models = null, string? Breaker = null);
