using MiniMind.Actors.Protocol;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.CoordinatorEffect;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

// CoordinatorState: snapshots of worker-0, checkpoints, the export of the output and its restore.
public sealed partial record CoordinatorState
{
    /// <summary>Ask worker-0 for a snapshot of <paramref name="step"/>; one already asked for gains the purpose instead.</summary>
    Decision RequestSnapshot(long step, bool checkpoint, bool join)
    {
        var (snapshots, ask) = Snapshots.Request(step, checkpoint, join);
        var s = this with { Snapshots = snapshots };
        return ask ? s.Do(new Tell(Crew.Worker, new Snapshot(Generation, step))) : s.Stay;
    }

    /// <summary>Worker-0 delivered a snapshot: write it as a checkpoint and/or send it to the replicas joining at its step.</summary>
    public Decision Snapshotted(Snapshotted msg)
    {
        var step = msg.Checkpoint.Step;
        if (msg.Generation != Generation || Snapshots.Delivered(step) is not (var snapshots, { } purpose)) return Stay;
        var d = (this with { Snapshots = snapshots }).Stay;
        if (purpose.Checkpoint)
            d = (d.State with { CheckpointStall = CheckpointStall + msg.Elapsed }).Do(new Tell(Crew.Writer, new WriteCheckpoint(Generation, msg.Checkpoint)));
        if (purpose.Join && Schedule.JoinersAt(step) is { Count: > 0 } joiners)
            d = d.Do(new FanOut(new ReplicaJoiner.FanOut(RunId, Generation, Settings.ToJson(), msg.Checkpoint, joiners)));
        return d;
    }

    public Decision CheckpointWritten(CheckpointWritten msg) => Do(new Persist(new CheckpointSaved(msg.File, msg.Sha256, msg.Step), msg));

    /// <summary>A checkpoint is journaled: answer who waited for it, prune old ones, then finish or end a stop.</summary>
    Decision Saved(CheckpointWritten w)
    {
        var (snapshots, answered) = Snapshots.Saved(w.Step);
        var d = (this with { Snapshots = snapshots })
            .Do([.. answered.Select(x => new Tell(x.ReplyTo, new CheckpointTaken(x.RequestId, w.File, w.Step, null)))]);
        if (Journal.Prunable(Settings.KeepCheckpoints) is { Count: > 0 } prunable)
            d = d.Do(new PersistAll([.. prunable.Select(p => new CheckpointDiscarded(p.File, "pruned"))]),
                     new AfterJournal(new Tell(Crew.Writer, new DeleteCheckpoints([.. prunable.Select(p => p.File)]))));
        if (w.Generation != Generation) return d;
        if (w.Step == Plan!.TotalSteps) return d.Then(s => s.Export());
        return w.Step == StopAtStep ? d.Then(s => s.Stopped(w.Step, $"stopped at step {w.Step}; checkpoint {w.File}")) : d;
    }

    /// <summary>All steps done and checkpointed: write MiniMind's output file.</summary>
    Decision Export() => (this with { Pipeline = Pipeline.Finishing })
        .Do(new Tell(Crew.Worker, new ExportWeights(Generation, Path.Combine(Settings.RunDir, Settings.OutputFileName))));

    /// <summary>The output is written: journal it relative to the run dir, so a copied or moved run dir finds its own output.</summary>
    public Decision Exported(WeightsExported msg) => msg.Generation != Generation ? Stay
        : Do(new Persist(new RunCompleted(Path.GetRelativePath(Path.GetFullPath(Settings.RunDir), Path.GetFullPath(msg.Path)), msg.Sha256, Plan!.TotalSteps), msg));

    /// <summary>Restoring: worker-0 holds the final checkpoint (else the run cannot be restored): export it.</summary>
    public Decision RestoreReady(WorkerReady msg) => msg.Generation != Generation ? Stay
        : msg.Step == Journal.CommittedStep ? Do(new Tell(Crew.Worker, new ExportWeights(Generation, RestoreTo!)))
        : Fail($"the completed run's output is missing or damaged and its final checkpoint (step {Journal.CommittedStep}) is not usable " +
               $"(newest usable: step {msg.Step}); use another --run-dir to train again", FailureKind.BadInput);

    /// <summary>Restoring: the output is exported again; it must have the journal's sha256 (bit for bit).</summary>
    public Decision Restored(WeightsExported msg) => msg.Generation != Generation ? Stay
        : msg.Sha256 != Journal.OutputSha256
            ? Fail($"the output exported again from step {Journal.CommittedStep} ({msg.Path}) has sha256 {msg.Sha256}, not the journal's {Journal.OutputSha256}", FailureKind.BadInput)
            : End(RunPhase.Completed).Do(
                Say(new TrainingNotice($"restored {msg.Path} from the checkpoint of step {Journal.CommittedStep} (sha256 matches the journal)")),
                Say(new TrainingFinished(Outcome.AlreadyCompleted, Journal.CommittedStep, msg.Path, $"run already completed at step {Journal.CommittedStep}: {msg.Path} (restored)")));
}
