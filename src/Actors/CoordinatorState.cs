using System.Collections.Immutable;
using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>Where a run is, as <c>ctl actor health</c> shows it (lower case).</summary>
public enum RunPhase { Starting, Running, Paused, Stopping, Restoring, Completed, Stopped, Failed }

/// <summary>What the coordinator does after a step is committed (<see cref="CoordinatorState.AfterStep"/>).</summary>
/// <param name="Report">send <see cref="TrainingCoordinator.TrainingProgress"/> (every log interval, the first and the last step)</param>
/// <param name="Finish">the last step: take the final checkpoint, then export</param>
/// <param name="Stop">a stop was asked for: checkpoint this step and end Stopped</param>
/// <param name="Checkpoint">take a checkpoint (save interval, or one asked for with SaveCheckpoint)</param>
public sealed record StepFollowUp(bool Report, bool Finish, bool Stop, bool Checkpoint);

/// <summary>How the coordinator answers <see cref="TrainingCoordinator.SaveCheckpoint"/> (<see cref="CoordinatorState.DecideSave"/>).</summary>
public abstract record SaveDecision
{
    /// <summary>No checkpoint can be taken: reply with this error.</summary>
    public sealed record Refuse(string Error) : SaveDecision;
    /// <summary>The newest checkpoint already is the current state: reply with it.</summary>
    public sealed record Existing(CheckpointRecord Checkpoint) : SaveDecision;
    /// <summary>Snapshot now (nothing in flight) and reply once it is journaled.</summary>
    public sealed record SnapshotNow : SaveDecision;
    /// <summary>Snapshot after the step in flight (or once the worker is back), then reply.</summary>
    public sealed record AfterCurrentStep : SaveDecision;
}

/// <summary>A <see cref="TrainingCoordinator.SaveCheckpoint"/> waiting for a checkpoint of at least <paramref name="MinStep"/>.</summary>
public sealed record SaveWaiter(string RequestId, IActorRef ReplyTo, long MinStep);

/// <summary>Why a snapshot of worker-0 was asked for: to write a checkpoint, to send to joining replicas, or both.</summary>
public sealed record SnapshotPurpose(bool Checkpoint, bool Join);

/// <summary>
/// The coordinator's control state beside the journaled <see cref="TrainingState"/>: phase, pause, stop and
/// checkpoint-on-demand requests. A record changed only by pure functions, tested without an ActorSystem (as Akka's
/// ShardCoordinator keeps its CoordinatorState); the actor persists, tells and schedules what they decide.
/// </summary>
public sealed record CoordinatorState
{
    public static CoordinatorState Initial { get; } = new();

    public RunPhase Phase { get; init; } = RunPhase.Starting;
    public bool Paused { get; init; }
    public bool StopRequested { get; init; }
    /// <summary>A checkpoint was asked for while a step was in flight: take it after that step.</summary>
    public bool SaveRequested { get; init; }

    /// <summary>Tags worker-0's incarnation: replies of an older one are dropped. Bumped by every reload.</summary>
    public int Generation { get; init; }
    /// <summary>Worker faults so far (the reload backoff grows with them).</summary>
    public int Restarts { get; init; }
    public bool Begun { get; init; }
    public bool WorkerReady { get; init; }
    public bool StepInFlight { get; init; }
    /// <summary>No new step: the run is taking its final checkpoint, exporting, stopping or has diverged.</summary>
    public bool Finishing { get; init; }
    /// <summary>The next step to run (= steps done by worker-0).</summary>
    public long NextStep { get; init; }
    /// <summary>The step whose checkpoint ends a stop (-1: none).</summary>
    public long StopAtStep { get; init; } = -1;

    /// <summary>Checkpoint requests answered once a checkpoint of their step is journaled.</summary>
    public ImmutableList<SaveWaiter> SaveWaiters { get; init; } = [];
    /// <summary>Snapshots asked of worker-0's current generation, by step.</summary>
    public ImmutableDictionary<long, SnapshotPurpose> Snapshots { get; init; } = ImmutableDictionary<long, SnapshotPurpose>.Empty;

    /// <summary><see cref="TrainingCoordinator.TrainingBegan"/> went out (later worker reloads are notices).</summary>
    public bool Announced { get; init; }
    /// <summary>The checkpoint file the last reload started from (null: from scratch).</summary>
    public string? ResumedFrom { get; init; }
    /// <summary>Time worker-0 spent snapshotting for checkpoints since the last progress report.</summary>
    public TimeSpan CheckpointStall { get; init; }

    public string PhaseName => Phase.ToString().ToLowerInvariant();

    /// <summary>Worker-0 is ready, nothing is in flight and the run is not finishing: a snapshot can be taken now.</summary>
    public bool Idle => WorkerReady && !StepInFlight && !Finishing;

    /// <summary>A new step may start (once its batches are there and a slot computes).</summary>
    public bool CanStartStep => Idle && !StopRequested && !Paused;

    /// <summary>The steps done when a pause takes hold (the step in flight included).</summary>
    public long PausedAt => StepInFlight ? NextStep + 1 : NextStep;

    public CoordinatorState Begin() => this with { Begun = true };

    /// <summary>(Re)initialise worker-0 from the newest checkpoint: a new generation, nothing in flight.</summary>
    public CoordinatorState Reloading() => this with { Generation = Generation + 1, WorkerReady = false, StepInFlight = false, Snapshots = Snapshots.Clear() };

    /// <summary>Worker-0 failed: drop its replies now (new generation) and reload after <see cref="ReloadDelay"/>.</summary>
    public CoordinatorState WorkerFailed() =>
        this with { Restarts = Restarts + 1, Generation = Generation + 1, WorkerReady = false, StepInFlight = false, Finishing = false, Snapshots = Snapshots.Clear() };

    /// <summary>200 ms · 2^(restarts−1), at most 10 s.</summary>
    public TimeSpan ReloadDelay => TimeSpan.FromMilliseconds(Math.Min(10_000, 200 * Math.Pow(2, Math.Max(0, Restarts - 1))));

    public CoordinatorState WorkerIsReady(long step) => this with { WorkerReady = true, NextStep = step };

    public CoordinatorState StepStarted() => this with { StepInFlight = true };

    /// <summary>Step <paramref name="done"/> − 1 is applied; the next one may start.</summary>
    public CoordinatorState StepDone(long done) => this with { StepInFlight = false, NextStep = done };

    /// <summary>The step in flight gave a NaN/∞: nothing more runs.</summary>
    public CoordinatorState Diverged() => this with { StepInFlight = false, Finishing = true };

    /// <summary>The last step is done (final checkpoint, then export) or the output is being exported.</summary>
    public CoordinatorState Finish() => this with { Finishing = true };

    /// <summary>Stop after the last finished step: its checkpoint ends the run.</summary>
    public CoordinatorState StoppingAt() => this with { Finishing = true, StopAtStep = NextStep };

    public bool Ended => Phase is RunPhase.Completed or RunPhase.Stopped or RunPhase.Failed;

    /// <summary>Start no new step; a paused run keeps its children and model.</summary>
    public CoordinatorState Pause() => this with { Paused = true, Phase = Phase == RunPhase.Running ? RunPhase.Paused : Phase };

    public CoordinatorState Resume() => this with { Paused = false, Phase = Phase == RunPhase.Paused ? RunPhase.Running : Phase };

    /// <summary>Finish the step in flight, checkpoint, end Stopped. A run that has ended stays as it is.</summary>
    public CoordinatorState Stop() => this with
    {
        StopRequested = true,
        Phase = Phase is RunPhase.Running or RunPhase.Paused or RunPhase.Starting ? RunPhase.Stopping : Phase,
    };

    /// <summary>The run came up (children started): running, or stopping when a stop came first.</summary>
    public CoordinatorState Began() => this with { Phase = StopRequested ? RunPhase.Stopping : Paused ? RunPhase.Paused : RunPhase.Running };

    public CoordinatorState Restoring() => this with { Phase = RunPhase.Restoring };

    public CoordinatorState End(RunPhase phase) => this with { Phase = phase };

    /// <summary>The commit cadence: what follows committing step <paramref name="done"/> (1-based count) of <paramref name="total"/>.
    /// The last step always takes the final checkpoint (a stop there is moot); otherwise a stop wins over a save.</summary>
    public StepFollowUp AfterStep(long done, long total, int logInterval, int saveInterval)
    {
        var report = done % Math.Max(1, logInterval) == 0 || done == total || done == 1;
        if (done == total) return new StepFollowUp(report, Finish: true, Stop: false, Checkpoint: false);
        if (StopRequested) return new StepFollowUp(report, Finish: false, Stop: true, Checkpoint: false);
        return new StepFollowUp(report, Finish: false, Stop: false, Checkpoint: done % Math.Max(1, saveInterval) == 0 || SaveRequested);
    }

    /// <summary>After <see cref="AfterStep"/> has taken a requested checkpoint.</summary>
    public CoordinatorState SaveTaken() => this with { SaveRequested = false };

    /// <summary>Checkpoint on demand. <paramref name="planned"/>: the run has started and knows its steps;
    /// <paramref name="idle"/>: the worker is ready, no step is in flight and the run is not finishing.</summary>
    public (CoordinatorState State, SaveDecision Decision) DecideSave(bool planned, bool completed, bool stepInFlight, bool idle,
                                                                      long nextStep, CheckpointRecord? latest)
    {
        if (!planned || completed || Ended)
            return (this, new SaveDecision.Refuse($"no checkpoint: the run is {PhaseName}"));
        if (!stepInFlight && latest is not null && latest.Step == nextStep) return (this, new SaveDecision.Existing(latest));
        return idle ? (this, new SaveDecision.SnapshotNow()) : (this with { SaveRequested = true }, new SaveDecision.AfterCurrentStep());
    }

    /// <summary>Answer <paramref name="requestId"/> once a checkpoint of the current state (<see cref="NextStep"/>) is journaled.</summary>
    public CoordinatorState WaitForSave(string requestId, IActorRef replyTo) =>
        this with { SaveWaiters = SaveWaiters.Add(new SaveWaiter(requestId, replyTo, NextStep)) };

    /// <summary>A checkpoint of <paramref name="step"/> is journaled: the waiters it satisfies (newest first) leave.</summary>
    public (CoordinatorState State, IReadOnlyList<SaveWaiter> Answered) Saved(long step)
    {
        var answered = SaveWaiters.Where(w => w.MinStep <= step).Reverse().ToList();
        return (this with { SaveWaiters = SaveWaiters.RemoveAll(w => w.MinStep <= step) }, answered);
    }

    /// <summary>Ask for a snapshot of <paramref name="step"/>; one already asked for gains the purpose instead
    /// (<c>Send</c> false: do not ask worker-0 again).</summary>
    public (CoordinatorState State, bool Send) RequestSnapshot(long step, bool checkpoint, bool join)
    {
        var had = Snapshots.TryGetValue(step, out var p);
        var purpose = new SnapshotPurpose((p?.Checkpoint ?? false) || checkpoint, (p?.Join ?? false) || join);
        return (this with { Snapshots = Snapshots.SetItem(step, purpose) }, !had);
    }

    /// <summary>Worker-0 delivered the snapshot of <paramref name="step"/>: what it was for (null: not asked for, or
    /// asked of an older generation).</summary>
    public (CoordinatorState State, SnapshotPurpose? Purpose) Snapshotted(long step) =>
        Snapshots.TryGetValue(step, out var p) ? (this with { Snapshots = Snapshots.Remove(step) }, p) : (this, null);

    /// <summary>The newest usable checkpoint was loaded (<paramref name="file"/> null: none, from scratch).</summary>
    public CoordinatorState Loaded(string? file) => this with { ResumedFrom = file };

    /// <summary>Worker-0 is ready: true the first time (announce the run), false after a reload.</summary>
    public (CoordinatorState State, bool First) Announce() => (this with { Announced = true }, !Announced);

    public CoordinatorState Stalled(TimeSpan snapshot) => this with { CheckpointStall = CheckpointStall + snapshot };

    public CoordinatorState StallReported() => this with { CheckpointStall = TimeSpan.Zero };
}
