using System.Collections.Immutable;
using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>What the <see cref="TrainingCoordinator"/> does, as <see cref="CoordinatorState"/>'s decisions say: the actor
/// executes these in order and decides nothing itself.</summary>
public abstract record CoordinatorEffect
{
    /// <summary>Tell <paramref name="Message"/> to <paramref name="To"/>, from <paramref name="Sender"/> (null: the coordinator).</summary>
    public sealed record Tell(IActorRef To, object Message, IActorRef? Sender = null) : CoordinatorEffect;

    /// <summary>Journal <paramref name="Event"/>; once written, <see cref="CoordinatorState.Persisted"/> applies it and decides
    /// what follows (<paramref name="Cause"/>: the message that led to it). <paramref name="Async"/>: PersistAsync (a step
    /// commit: per-step latency matters, and a lost one is just redone); otherwise Persist (what follows depends on the write).</summary>
    public sealed record Persist(ITrainingEvent Event, object? Cause = null, bool Async = false) : CoordinatorEffect;

    /// <summary>Journal <paramref name="Events"/> in one write.</summary>
    public sealed record PersistAll(IReadOnlyList<ITrainingEvent> Events) : CoordinatorEffect;

    /// <summary>Do <paramref name="Then"/> once every event asked to be journaled before it is written.</summary>
    public sealed record AfterJournal(CoordinatorEffect Then) : CoordinatorEffect;

    /// <summary>Send the snapshot to joining replicas through the <see cref="ReplicaJoiner"/> child (started on first use).</summary>
    public sealed record FanOut(ReplicaJoiner.FanOut Message) : CoordinatorEffect;

    /// <summary>Reload worker-0 from the newest checkpoint after <paramref name="Delay"/> (a timer).</summary>
    public sealed record ReloadAfter(TimeSpan Delay) : CoordinatorEffect;

    public sealed record LogWarning(string Text) : CoordinatorEffect;
}

/// <summary>A decision: the next <see cref="CoordinatorState"/> and what to do, in order.</summary>
public sealed record Decision(CoordinatorState State, ImmutableList<CoordinatorEffect> Effects)
{
    public Decision Do(params CoordinatorEffect[] effects) => this with { Effects = Effects.AddRange(effects) };

    /// <summary>Decide further on the state this decision reached; the effects follow this one's.</summary>
    public Decision Then(Func<CoordinatorState, Decision> next)
    {
        var d = next(State);
        return new Decision(d.State, Effects.AddRange(d.Effects));
    }
}
