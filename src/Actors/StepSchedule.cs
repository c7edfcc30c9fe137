using System.Collections.Immutable;
using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>A worker node's replica as the coordinator sees it: waiting for a step boundary, being sent the snapshot
/// of step <see cref="JoinStep"/>, or ready to compute.</summary>
public sealed record Replica(string Node, string Device, Replica.Status State, long JoinStep)
{
    public enum Status { Pending, Joining, Ready }

    /// <summary>One slot per device: a node with several devices sums its blocks locally.</summary>
    public int Devices => Model.DeviceList.Parse(Device).Length;
}

/// <summary>Micro-batch <paramref name="Micro"/> of the step in flight goes to <paramref name="Target"/>, which was given
/// <paramref name="Group"/> together (its whole share of this assignment).</summary>
public sealed record Assignment(IActorRef Target, int Micro, IReadOnlyList<int> Group);

/// <summary>
/// Who computes what (issue 5), as a record changed by pure functions and tested without an ActorSystem: the worker
/// nodes' replicas (join at a step boundary, ready, left), the micro-batches of the step in flight and whom they went to,
/// and how many each node computed. The coordinator tells what these decide.
/// </summary>
public sealed record StepSchedule
{
    /// <summary>The name worker-0 (the coordinator's own replica) is counted under.</summary>
    public const string Local = "coordinator";

    public static StepSchedule Empty { get; } = new();

    public ImmutableDictionary<IActorRef, Replica> Replicas { get; init; } = ImmutableDictionary<IActorRef, Replica>.Empty;
    /// <summary>The step in flight: who computes each micro-batch.</summary>
    public ImmutableDictionary<int, IActorRef> Assigned { get; init; } = ImmutableDictionary<int, IActorRef>.Empty;
    /// <summary>Micro-batches handed to each node in this incarnation (reported when the run ends).</summary>
    public ImmutableSortedDictionary<string, long> ComputedBy { get; init; } = ImmutableSortedDictionary.Create<string, long>(StringComparer.Ordinal);

    /// <summary>What the aggregator reported receiving (micro-batches reduced, gradient messages, node-summed blocks).</summary>
    public (long Micros, long Gradients, long Blocks) Received { get; init; }

    public StepSchedule Reduced(long micros, long gradients, long blocks) =>
        this with { Received = (Received.Micros + micros, Received.Gradients + gradients, Received.Blocks + blocks) };

    /// <summary>A worker node is present: it waits for the next step boundary. Null when it already is known.</summary>
    public StepSchedule? Joined(IActorRef worker, string node, string device) =>
        Replicas.ContainsKey(worker) ? null : this with { Replicas = Replicas.SetItem(worker, new Replica(node, device, Replica.Status.Pending, -1)) };

    public bool AnyPending => Replicas.Values.Any(r => r.State == Replica.Status.Pending);

    /// <summary>A replica is being sent the snapshot of a step boundary and has not answered ready yet.</summary>
    public bool AnyJoining => Replicas.Values.Any(r => r.State == Replica.Status.Joining);

    /// <summary>At a step boundary: every pending replica becomes a replica of the state at <paramref name="step"/>.</summary>
    public StepSchedule StartJoin(long step) => this with
    {
        Replicas = Replicas.SetItems(Replicas.Where(r => r.Value.State == Replica.Status.Pending)
            .Select(r => KeyValuePair.Create(r.Key, r.Value with { State = Replica.Status.Joining, JoinStep = step }))),
    };

    /// <summary>The replicas waiting for the snapshot of <paramref name="step"/>.</summary>
    public IReadOnlyList<IActorRef> JoinersAt(long step) =>
        [.. Replicas.Where(r => r.Value.State == Replica.Status.Joining && r.Value.JoinStep == step).Select(r => r.Key)];

    /// <summary>A joining replica has built its model: it computes from now on. Null when it was not joining.</summary>
    public (StepSchedule State, Replica Replica)? Ready(IActorRef worker) =>
        Replicas.TryGetValue(worker, out var r) && r.State == Replica.Status.Joining
            ? (this with { Replicas = Replicas.SetItem(worker, r with { State = Replica.Status.Ready }) }, r)
            : null;

    /// <summary>A worker node left: forget it; its micro-batches of the step in flight (in order) must go to the others.</summary>
    public (StepSchedule State, Replica Gone, IReadOnlyList<int> Orphans)? Left(IActorRef worker) =>
        Replicas.TryGetValue(worker, out var gone)
            ? (this with { Replicas = Replicas.Remove(worker) }, gone, [.. Assigned.Where(a => a.Value.Equals(worker)).Select(a => a.Key).Order()])
            : null;

    /// <summary>Every replica must join again (worker-0 was reloaded, a new generation): nothing is assigned.</summary>
    public StepSchedule Reset() => this with
    {
        Replicas = Replicas.SetItems(Replicas.Select(r => KeyValuePair.Create(r.Key, r.Value with { State = Replica.Status.Pending, JoinStep = -1 }))),
        Assigned = Assigned.Clear(),
    };

    /// <summary>The replicas that receive the reduced gradient (joining or ready: they follow from their join step on).</summary>
    public IReadOnlyList<IActorRef> Followers => [.. Replicas.Where(r => r.Value.State != Replica.Status.Pending).Select(r => r.Key)];

    /// <summary>Who computes micro-batches now: one slot per device of <paramref name="local"/> (when it computes) and of
    /// the ready replicas. Any of them gives the same bits for a micro-batch (same weights, same data), so the split is
    /// free. A node's slots are adjacent and nodes with several devices come first, so that a node gets runs of
    /// neighbouring micro-batches: whole blocks of the reduction tree, which it adds up before sending.</summary>
    public IReadOnlyList<IActorRef> Slots(IActorRef local, bool localCompute)
    {
        var computers = new List<(IActorRef Ref, int Devices, string Name)>();
        if (localCompute) computers.Add((local, 1, ""));
        computers.AddRange(Replicas.Where(r => r.Value.State == Replica.Status.Ready).Select(r => (r.Key, r.Value.Devices, r.Value.Node)));
        return [.. computers.OrderByDescending(c => c.Devices).ThenBy(c => c.Name, StringComparer.Ordinal)
            .SelectMany(c => Enumerable.Repeat(c.Ref, c.Devices))];
    }

    /// <summary>A new step: nothing assigned yet.</summary>
    public StepSchedule NewStep() => this with { Assigned = Assigned.Clear() };

    /// <summary>Micro-batch i of <paramref name="micros"/> goes to slot i mod |slots|; each target hears its whole group.</summary>
    public (StepSchedule State, IReadOnlyList<Assignment> Assignments) Assign(IReadOnlyList<int> micros, IReadOnlyList<IActorRef> slots, IActorRef local)
    {
        var assigned = Assigned;
        var computedBy = ComputedBy;
        var result = new List<Assignment>();
        foreach (var group in micros.Select((m, i) => (Micro: m, Target: slots[i % slots.Count])).GroupBy(x => x.Target))
        {
            var mine = group.Select(x => x.Micro).Order().ToList();
            var name = group.Key.Equals(local) ? Local : Replicas.TryGetValue(group.Key, out var r) ? r.Node : group.Key.Path.Address.ToString();
            computedBy = computedBy.SetItem(name, computedBy.GetValueOrDefault(name) + mine.Count);
            foreach (var micro in mine)
            {
                assigned = assigned.SetItem(micro, group.Key);
                result.Add(new Assignment(group.Key, micro, mine));
            }
        }
        return (this with { Assigned = assigned, ComputedBy = computedBy }, result);
    }

    /// <summary>True when any node but worker-0 took part (the run then reports who computed what).</summary>
    public bool Distributed => !Replicas.IsEmpty || ComputedBy.Keys.Any(k => k != Local);
}
