using Akka.Actor;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>
/// The <see cref="TrainingCoordinator"/>'s distributed scheduling: <see cref="StepSchedule"/>'s pure functions decide
/// (slots, assignment, join, leave, reassignment); this tells what they decide, to worker-0, the worker nodes, the
/// aggregator and the listener, and owns the <see cref="ReplicaJoiner"/> child. A plain helper, not a child actor: it
/// runs inside the coordinator's message, so the order of what it tells is the coordinator's.
/// </summary>
sealed class StepDispatcher(IActorContext context, TrainingSettings settings, IActorRef listener, bool localCompute)
{
    IActorRef joiner = ActorRefs.Nobody;
    IActorRef worker = ActorRefs.Nobody, aggregator = ActorRefs.Nobody;

    public StepSchedule Schedule { get; private set; } = StepSchedule.Empty;

    /// <summary>worker-0 (the coordinator's replica) and the gradient aggregator, once created.</summary>
    public void Attach(IActorRef worker, IActorRef aggregator) => (this.worker, this.aggregator) = (worker, aggregator);

    /// <summary>Who computes micro-batches now (empty: nobody yet, wait for a worker to join).</summary>
    public IReadOnlyList<IActorRef> Slots() => Schedule.Slots(worker, localCompute);

    /// <summary>Every replica must join again (worker-0 is reloaded): nothing is assigned.</summary>
    public void Reset() => Schedule = Schedule.Reset();

    public void NewStep() => Schedule = Schedule.NewStep();

    public void Reduced(GradientAggregator.StepReduced r) => Schedule = Schedule.Reduced(r.MicroCount, r.Gradients, r.Blocks);

    /// <summary>Step <paramref name="step"/> starts: the aggregator expects its micro-batches, the slots compute them.</summary>
    public void StartStep(int generation, long step, DataLoader.StepBatches batches, int gradientLength, double lr, IReadOnlyList<IActorRef> slots)
    {
        Schedule = Schedule.NewStep();
        aggregator.Tell(new GradientAggregator.BeginStep(generation, step, batches.Micro.Count, gradientLength, lr, worker, context.Self, Schedule.Followers));
        Assign(generation, batches, Enumerable.Range(0, batches.Micro.Count).ToList(), slots);
    }

    /// <summary>Tell each assigned target its micro-batch (a remote node hears its whole group, to sum blocks locally).</summary>
    void Assign(int generation, DataLoader.StepBatches b, IReadOnlyList<int> micros, IReadOnlyList<IActorRef> slots)
    {
        (Schedule, var assignments) = Schedule.Assign(micros, slots, worker);
        foreach (var a in assignments)
        {
            if (a.Target.Equals(worker))
                worker.Tell(new ComputeGradients(generation, b.Step, a.Micro, b.Micro.Count, b.Micro[a.Micro], aggregator));
            else
                a.Target.Tell(new RemoteCompute(generation, b.Step, a.Micro, b.Micro.Count, b.Micro[a.Micro], a.Group), aggregator);
        }
    }

    /// <summary>A worker node is present: it waits for the next step boundary. False when it already was known.</summary>
    public bool Joined(WorkerJoined msg)
    {
        if (Schedule.Joined(msg.Worker, msg.Node, msg.Device) is not { } joined) return false;
        Schedule = joined;
        listener.Tell(new TrainingNotice($"worker {msg.Node} ({msg.Device}) joined"));
        return true;
    }

    /// <summary>A worker node left: forget it. Its micro-batches of the step in flight (<paramref name="inFlight"/>)
    /// go to the others (worker-0 as a last resort, so the step always completes). A copy that the lost worker did
    /// deliver is identical and deduplicated by the aggregator.</summary>
    public void Left(WorkerLeft msg, int generation, DataLoader.StepBatches? inFlight)
    {
        if (Schedule.Left(msg.Worker) is not var (next, gone, orphans)) return;
        Schedule = next;
        listener.Tell(new TrainingNotice($"worker {gone.Node} left ({msg.Reason})"));
        if (inFlight is null || orphans.Count == 0) return;
        var slots = Slots();
        Assign(generation, inFlight, orphans, slots.Count > 0 ? slots : [worker]);
        listener.Tell(new TrainingNotice($"reassigned micro-batches {string.Join(",", orphans)} of step {inFlight.Step} from {gone.Node}"));
    }

    /// <summary>A joining replica has built its model at <paramref name="step"/>. False when it was not joining.</summary>
    public bool Ready(IActorRef replica, long step)
    {
        if (Schedule.Ready(replica) is not var (next, r)) return false;
        Schedule = next;
        listener.Tell(new TrainingNotice($"worker {r.Node} ready at step {step}"));
        return true;
    }

    /// <summary>At a step boundary: pending workers become replicas of the state at <paramref name="step"/>. False
    /// when none is pending (no snapshot needed).</summary>
    public bool StartJoin(long step)
    {
        if (!Schedule.AnyPending) return false;
        Schedule = Schedule.StartJoin(step);
        return true;
    }

    /// <summary>The snapshot of worker-0 at a step boundary goes to the replicas joining at that step, through the
    /// <see cref="ReplicaJoiner"/>; they receive the reduced gradients from that step on.</summary>
    public void FanOut(string runId, int generation, TrainingCheckpoint snapshot)
    {
        if (Schedule.JoinersAt(snapshot.Step) is not { Count: > 0 } joiners) return;
        if (joiner.IsNobody()) joiner = context.ActorOf(ReplicaJoiner.Props(), "replica-joiner");
        joiner.Tell(new ReplicaJoiner.FanOut(runId, generation, settings.ToJson(), snapshot, joiners));
    }

    /// <summary>When any node but worker-0 took part: who computed what, and what the aggregator received.</summary>
    public void ReportDistribution()
    {
        if (!Schedule.Distributed) return;
        listener.Tell(new TrainingNotice("micro-batches assigned: " + string.Join(", ", Schedule.ComputedBy.Select(kv => $"{kv.Key} {kv.Value}"))));
        listener.Tell(new TrainingNotice($"gradients received: {Schedule.Received.Gradients} for {Schedule.Received.Micros} micro-batches ({Schedule.Received.Blocks} of them sums of several, reduced on their node)"));
    }
}
