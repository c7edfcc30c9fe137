using System.Collections.Immutable;
using Akka.Actor;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>A <see cref="SaveCheckpoint"/> waiting for a checkpoint of at least <paramref name="MinStep"/>.</summary>
public sealed record SaveWaiter(string RequestId, IActorRef ReplyTo, long MinStep);

/// <summary>Why a snapshot of worker-0 was asked for: to write a checkpoint, to send to joining replicas, or both.</summary>
public sealed record SnapshotPurpose(bool Checkpoint, bool Join);

/// <summary>
/// What the coordinator asked of worker-0's snapshots, and who waits for a checkpoint: pure bookkeeping, held by
/// <see cref="CoordinatorState"/>. A snapshot asked for twice (a checkpoint and a join at one step boundary) is asked of
/// worker-0 once and serves both (<see cref="Request"/>); a new generation of worker-0 forgets what its predecessor was
/// asked (<see cref="NewGeneration"/>); a checkpoint asked for while a step is in flight is taken after that step
/// (<see cref="CheckpointAfterStep"/>); a journaled checkpoint answers the waiters it satisfies (<see cref="Saved"/>).
/// </summary>
public sealed record SnapshotRequests
{
    public static SnapshotRequests None { get; } = new();

    /// <summary>Snapshots asked of worker-0's current generation, by step.</summary>
    public ImmutableDictionary<long, SnapshotPurpose> Asked { get; init; } = ImmutableDictionary<long, SnapshotPurpose>.Empty;

    /// <summary>Checkpoint requests answered once a checkpoint of their step is journaled.</summary>
    public ImmutableList<SaveWaiter> Waiters { get; init; } = [];

    /// <summary>A checkpoint was asked for while a step was in flight: take it after that step.</summary>
    public bool CheckpointAfterStep { get; init; }

    /// <summary>A snapshot of <paramref name="step"/> for these purposes; <c>Ask</c>: whether worker-0 must be asked (not
    /// when that snapshot is already asked for: it gains the purposes instead).</summary>
    public (SnapshotRequests Requests, bool Ask) Request(long step, bool checkpoint, bool join)
    {
        var had = Asked.TryGetValue(step, out var p);
        return (this with { Asked = Asked.SetItem(step, new SnapshotPurpose((p?.Checkpoint ?? false) || checkpoint, (p?.Join ?? false) || join)) }, !had);
    }

    /// <summary>Worker-0 delivered the snapshot of <paramref name="step"/>: what it was asked for (null: not asked of this
    /// generation), and the requests without it.</summary>
    public (SnapshotRequests Requests, SnapshotPurpose? Purpose) Delivered(long step) =>
        Asked.TryGetValue(step, out var purpose) ? (this with { Asked = Asked.Remove(step) }, purpose) : (this, null);

    /// <summary>A new generation of worker-0: the snapshots asked of the old one will not come.</summary>
    public SnapshotRequests NewGeneration() => this with { Asked = Asked.Clear() };

    /// <summary><paramref name="waiter"/> waits for a checkpoint; with <paramref name="afterStep"/> it is taken after the
    /// step in flight.</summary>
    public SnapshotRequests Wait(SaveWaiter waiter, bool afterStep) =>
        this with { Waiters = Waiters.Add(waiter), CheckpointAfterStep = CheckpointAfterStep || afterStep };

    /// <summary>A checkpoint of <paramref name="step"/> is journaled: the waiters it answers (newest first) and the
    /// requests without them.</summary>
    public (SnapshotRequests Requests, IReadOnlyList<SaveWaiter> Answered) Saved(long step) =>
        (this with { Waiters = Waiters.RemoveAll(x => x.MinStep <= step) }, [.. Waiters.Where(x => x.MinStep <= step).Reverse()]);
}
