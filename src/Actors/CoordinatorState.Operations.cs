using Akka.Actor;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.CoordinatorEffect;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

// CoordinatorState: the operations ctl asks for (pause, resume, stop, checkpoint on demand) and the replicas on worker nodes.
public sealed partial record CoordinatorState
{
    /// <summary>Start no new step after the one in flight; a paused run keeps its children and model.</summary>
    public Decision Pause(string requestId, IActorRef replyTo) =>
        (Phase == RunPhase.Running ? this with { Phase = RunPhase.Paused } : this)
            .Do(new Tell(replyTo, new TrainingPaused(requestId, PausedAt, Pipeline == Pipeline.Stepping)));

    public Decision Resume(string requestId, IActorRef replyTo)
    {
        var d = (Phase == RunPhase.Paused ? this with { Phase = RunPhase.Running } : this).Do(new Tell(replyTo, new TrainingResumed(requestId, NextStep)));
        return Ended ? d : d.Then(s => s.Pump());
    }

    /// <summary>Finish the step in flight, checkpoint, end Stopped. A run that is not running or paused stays as it is.</summary>
    public Decision Stop()
    {
        if (Phase is not (RunPhase.Running or RunPhase.Paused)) return Stay;
        var s = this with { Phase = RunPhase.Stopping };
        return s.Pipeline == Pipeline.Idle ? s.FinishStopped() : s.Stay;
    }

    /// <summary>Checkpoint the state after the last finished step (unless the newest checkpoint already is it), then end.</summary>
    Decision FinishStopped()
    {
        var s = this with { Pipeline = Pipeline.Finishing, StopAtStep = NextStep };
        return Journal.LatestCheckpoint is { } latest && latest.Step == NextStep
            ? s.Stopped(NextStep, $"stopped at step {NextStep}; checkpoint {latest.File}")
            : s.RequestSnapshot(NextStep, checkpoint: true, join: false);
    }

    Decision Stopped(long step, string message) => End(RunPhase.Stopped).Do(Say(new TrainingFinished(Outcome.Stopped, step, null, message)));

    /// <summary>Checkpoint on demand: refused (not started or ended), the newest checkpoint (it is the current state),
    /// a snapshot now (idle) or after the step in flight; answered once that checkpoint is journaled.</summary>
    public Decision Save(string requestId, IActorRef replyTo)
    {
        if (Plan is null || Journal.Completed || Ended)
            return Do(new Tell(replyTo, new CheckpointTaken(requestId, null, Journal.CommittedStep, $"no checkpoint: the run is {PhaseName}")));
        if (Pipeline != Pipeline.Stepping && Journal.LatestCheckpoint is { } latest && latest.Step == NextStep)
            return Do(new Tell(replyTo, new CheckpointTaken(requestId, latest.File, latest.Step, null)));
        var s = this with { Snapshots = Snapshots.Wait(new SaveWaiter(requestId, replyTo, NextStep), afterStep: Pipeline != Pipeline.Idle) };
        return s.Pipeline == Pipeline.Idle ? s.RequestSnapshot(NextStep, checkpoint: true, join: false) : s.Stay;
    }

    // ---- replicas on worker nodes ----

    /// <summary>A worker node is present: it becomes a replica at the next step boundary.</summary>
    public Decision WorkerJoined(WorkerJoined msg) => Schedule.Joined(msg.Worker, msg.Node, msg.Device) is { } joined
        ? (this with { Schedule = joined }).Do(Say(new TrainingNotice($"worker {msg.Node} ({msg.Device}) joined"))).Then(s => s.JoinPending())
        : Stay;

    /// <summary>At a step boundary, pending workers become replicas of the state at <see cref="NextStep"/>: one snapshot
    /// of worker-0 (model, AdamW, RNG), fanned out by the <see cref="ReplicaJoiner"/>. Workers that come while others are
    /// joining wait for them (the step does not start before those are ready, so this is still the same boundary).</summary>
    Decision JoinPending() => Pipeline == Pipeline.Idle && Plan is not null && Schedule.AnyPending && !Schedule.AnyJoining
        ? (this with { Schedule = Schedule.StartJoin(NextStep) }).RequestSnapshot(NextStep, checkpoint: false, join: true)
        : Stay;

    /// <summary>A worker node left: forget it. Its micro-batches of the step in flight go to the others (worker-0 as a
    /// last resort, so the step always completes). A copy the lost worker did deliver is deduplicated by the aggregator.</summary>
    public Decision WorkerLeft(WorkerLeft msg)
    {
        if (Schedule.Left(msg.Worker) is not var (next, gone, orphans)) return Stay;
        var d = (this with { Schedule = next }).Do(Say(new TrainingNotice($"worker {gone.Node} left ({msg.Reason})")));
        if (gone.State == Replica.Status.Joining && !Ended) return d.Then(s => s.JoinPending()).Then(s => s.Pump());   // the step waited for it
        if (Pipeline != Pipeline.Stepping || Buffer.InFlight is not { } inFlight || orphans.Count == 0) return d;
        var slots = next.Slots(Crew.Worker, Crew.LocalCompute);
        return d.Then(s => s.Assign(inFlight, orphans, slots.Count > 0 ? slots : [Crew.Worker]))
                .Do(Say(new TrainingNotice($"reassigned micro-batches {string.Join(",", orphans)} of step {inFlight.Step} from {gone.Node}")));
    }

    /// <summary>A joining replica has built its model at the join step: it computes from now on.</summary>
    public Decision ReplicaReady(IActorRef replica, ReplicaReady msg) =>
        msg.Generation == Generation && Schedule.Ready(replica) is var (next, r)
            ? (this with { Schedule = next }).Do(Say(new TrainingNotice($"worker {r.Node} ready at step {msg.Step}"))).Then(s => s.JoinPending()).Then(s => s.Pump())
            : Stay;

    /// <summary>A replica failed on its node: it leaves and joins again.</summary>
    public Decision ReplicaLost(IActorRef replica, ReplicaLost msg) =>
        msg.Generation == Generation && Schedule.Replicas.TryGetValue(replica, out var r)
            ? WorkerLeft(new WorkerLeft(replica, $"its replica failed: {msg.Reason}")).Then(s => s.WorkerJoined(new WorkerJoined(replica, r.Node, r.Device)))
            : Stay;

    /// <summary>When any node but worker-0 took part: who computed what, and what the aggregator received.</summary>
    IEnumerable<CoordinatorEffect> Distribution() => !Schedule.Distributed ? [] :
    [
        Say(new TrainingNotice("micro-batches assigned: " + string.Join(", ", Schedule.ComputedBy.Select(kv => $"{kv.Key} {kv.Value}")))),
        Say(new TrainingNotice($"gradients received: {Schedule.Received.Gradients} for {Schedule.Received.Micros} micro-batches ({Schedule.Received.Blocks} of them sums of several, reduced on their node)")),
    ];
}
