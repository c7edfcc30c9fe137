using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Model.Data;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors;

/// <summary>
/// Drives one training stage of one run dir. <see cref="CoordinatorState"/> decides every message (a pure function to
/// the next state and a list of effects); this actor executes the effects (persist, tell, schedule), keeps the health
/// book and follows the phase with Become: Starting → Running ⇄ Paused → Stopping → Completed/Stopped/Failed, or
/// Starting → Restoring → Completed. Events: <see cref="RunStarted"/>, <see cref="StepCommitted"/> (PersistAsync),
/// <see cref="CheckpointSaved"/>, <see cref="CheckpointDiscarded"/>, <see cref="RunCompleted"/>. Children: a
/// <see cref="DataLoader"/>, worker-0 (a <see cref="GpuWorker"/>), a <see cref="GradientAggregator"/>, a
/// <see cref="CheckpointWriter"/> and, once a node joins, a <see cref="ReplicaJoiner"/>. Resume = newest verified
/// checkpoint (model + AdamW + RNG + step). Starts (or resumes) by itself once recovery completes, reporting to the listener.
/// </summary>
public sealed class TrainingCoordinator : ReceivePersistentActor, IWithTimers
{
    // ---- commands and queries ----
    /// <summary>Self-sent after recovery: begin a new run, resume one, or report that it is complete.</summary>
    public sealed record StartTraining { public static StartTraining Instance { get; } = new(); }
    /// <summary>Finish the current step, checkpoint, then report <see cref="TrainingFinished"/> (Stopped).</summary>
    public sealed record StopTraining(string RequestId);
    public sealed record FetchTrainingStatus(string RequestId);
    public sealed record TrainingStatus(string RequestId, TrainingState State);
    /// <summary>Start no new step after the one in flight; the children and the model stay. Replies <see cref="TrainingPaused"/>.</summary>
    public sealed record PauseTraining(string RequestId);
    /// <summary><paramref name="Step"/>: the steps done when the run stands still (the step in flight included).</summary>
    public sealed record TrainingPaused(string RequestId, long Step, bool StepInFlight);
    public sealed record ResumeTraining(string RequestId);
    public sealed record TrainingResumed(string RequestId, long Step);
    /// <summary>Checkpoint after the current step (now when idle or paused). Replies <see cref="CheckpointTaken"/> once it is
    /// written and journaled (Error set when the run cannot checkpoint: not started or ended).</summary>
    public sealed record SaveCheckpoint(string RequestId);
    public sealed record CheckpointTaken(string RequestId, string? File, long Step, string? Error);
    public sealed record FetchActorHealth(string RequestId);
    /// <summary><paramref name="Phase"/>: starting, running, paused, stopping, restoring, completed, stopped or failed.</summary>
    public sealed record ActorHealthReport(string RequestId, string Path, string Phase, long Step, long TotalSteps, HealthBook Health);
    // ---- cluster membership (from the RunManager) ----
    /// <summary>A worker node's <see cref="ClusterWorker"/> is present: a replica from the next step boundary on.</summary>
    public sealed record WorkerJoined(IActorRef Worker, string Node, string Device);
    /// <summary>A worker node left, was downed or became unreachable: its unfinished micro-batches go to the others.</summary>
    public sealed record WorkerLeft(IActorRef Worker, string Reason);
    // ---- to the listener ----
    public sealed record TrainingBegan(bool Resumed, long FromStep, long TotalSteps, long SampleCount, long ParameterCount, string? Checkpoint);
    public sealed record TrainingProgress(long Step, long TotalSteps, int Epoch, double Loss, double Lr, double GradNorm, long StepTokens, TimeSpan StepTime, TimeSpan CheckpointStall,
        RlMetrics? Rl = null);
    /// <summary>A line for the user (stderr of <c>train</c>, the run's log). Not sealed: a notice something acts on is a
    /// typed subtype (<see cref="WorkerFailed"/>), read by its fields, never by its wording.</summary>
    public record TrainingNotice(string Text);
    /// <summary>Worker-0 failed and restarts (<paramref name="Restart"/>: the run's count so far); it reloads the newest
    /// checkpoint after <paramref name="ReloadDelay"/>. The metrics recorder raises the worker-restart alert from it.</summary>
    public sealed record WorkerFailed(string Reason, int Restart, TimeSpan ReloadDelay) : TrainingNotice(FormattableString.Invariant(
        $"warning: worker failed ({Reason}); restart {Restart}, reloading the newest checkpoint in {ReloadDelay.TotalMilliseconds:0} ms"));
    /// <summary>The held-out evaluation (<see cref="EvalSettings"/>) of the weights after <paramref name="Step"/> steps:
    /// <paramref name="Loss"/> = mean NLL per scored token, <paramref name="Perplexity"/> = exp(Loss).</summary>
    public sealed record EvalMeasured(long Step, double Loss, double Perplexity, long Tokens, int Samples, TimeSpan Elapsed);
    /// <summary>Every committed step (the experiment history, issue 14): <paramref name="Step"/> steps done, its loss, LR,
    /// gradient norm (before clipping), loss tokens and worker-0's compute time for it (its micro-batches + the update).</summary>
    public sealed record StepMeasured(long Step, int Epoch, double Loss, double Lr, double GradNorm, long LossTokens, TimeSpan ComputeTime, RlMetrics? Rl = null);
    public enum Outcome { Completed, AlreadyCompleted, Stopped, Failed }
    /// <summary>Why a run failed, for the CLI's exit code: decided where the failure is known, never read back from the message.</summary>
    public enum FailureKind
    {
        /// <summary>Not a failure (Completed, AlreadyCompleted, Stopped).</summary>
        None,
        /// <summary>A bug or an environment problem not covered below (also a worker that kept failing).</summary>
        Unexpected,
        /// <summary>The run's settings conflict with what the run dir holds (another run): the arguments are the problem.</summary>
        BadArguments,
        /// <summary>An input (the data, a checkpoint) is missing, malformed or does not match.</summary>
        BadInput,
        /// <summary>An output (a checkpoint) could not be written: a full disk, no permission.</summary>
        OutputNotWritable,
        /// <summary>The SQLite journal file is damaged: <c>minimind run repair</c> rebuilds it from the checkpoints.</summary>
        JournalDamaged,
        /// <summary>The journal could not be read or written (unreachable, locked, rejected).</summary>
        JournalUnavailable,
        /// <summary>A step's loss or gradient norm was not finite (<see cref="TrainingFinished.Diverged"/> says which, at
        /// which step); nothing of it was kept. Exit code as <see cref="Unexpected"/>.</summary>
        Diverged,
    }
    /// <summary>What diverged: the 1-based <paramref name="Step"/> and what was not finite ("the loss is NaN").</summary>
    public sealed record Divergence(long Step, string What);
    /// <param name="Diverged">Set with <see cref="FailureKind.Diverged"/>.</param>
    public sealed record TrainingFinished(Outcome Outcome, long Step, string? OutputFile, string Message, FailureKind Failure = FailureKind.None,
        Divergence? Diverged = null);
    // ---- to itself ----
    sealed record ChildRestarted(string Name);
    sealed record ReloadWorker;

    readonly TrainingSettings settings;
    readonly Func<TrainingSettings, ITokenizedDataset> openDataset;
    readonly FaultPlan faults;
    readonly TimeSpan checkpointWriteDelay;
    readonly ILoggingAdapter log = Context.GetLogger();
    CoordinatorState core;
    HealthBook health = HealthBook.Empty;
    IActorRef joiner = ActorRefs.Nobody;

    /// <param name="localCompute">worker-0 (the coordinator's replica) computes micro-batches; off on a seed node
    /// without --device, where it only applies updates, snapshots and exports (and computes orphaned micro-batches when
    /// no worker node is left).</param>
    public static Props Props(string persistenceId, TrainingSettings settings, Func<TrainingSettings, ITokenizedDataset> openDataset,
                              IActorRef listener, FaultPlan? faults = null, TimeSpan checkpointWriteDelay = default, bool localCompute = true) =>
        Akka.Actor.Props.Create(() => new TrainingCoordinator(persistenceId, settings, openDataset, listener, faults ?? FaultPlan.None, checkpointWriteDelay, localCompute));

    public TrainingCoordinator(string persistenceId, TrainingSettings settings, Func<TrainingSettings, ITokenizedDataset> openDataset,
                               IActorRef listener, FaultPlan faults, TimeSpan checkpointWriteDelay, bool localCompute = true)
    {
        PersistenceId = persistenceId;
        (this.settings, this.openDataset, this.faults, this.checkpointWriteDelay) = (settings, openDataset, faults, checkpointWriteDelay);
        core = new CoordinatorState(persistenceId, settings, new Crew(Self, listener, localCompute));
        Recover<ITrainingEvent>(e => core = core.Recovered(e));
        Recover<RecoveryCompleted>(_ => Self.Tell(StartTraining.Instance));
        Starting();
    }

    public override string PersistenceId { get; }
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Recovered, not yet begun: the ops commands that change the run wait until it is up.</summary>
    void Starting()
    {
        Command<StartTraining>(_ => OnStart());
        Command<StopTraining>(_ => Stash.Stash());
        Command<PauseTraining>(_ => Stash.Stash());
        Command<ResumeTraining>(_ => Stash.Stash());
        Command<SaveCheckpoint>(_ => Stash.Stash());
        Membership();
    }

    /// <summary>Running, paused or stopping: the step pipeline and checkpoints. The three handle the same messages;
    /// what differs (whether a step starts, what follows a commit) is the state's decision.</summary>
    void Training()
    {
        Command<StopTraining>(_ => Execute(core.Stop()));
        Command<LatestLoaded>(m => { Seen(); Execute(core.LatestLoaded(m)); });
        Command<WorkerReady>(m => { Seen(); health = health.Holds(Sender.Path.Name, m.ParameterCount * 16); Execute(core.WorkerReady(m)); });
        Command<DataLoader.StepBatches>(b => { Seen(work: true); Execute(core.Received(b)); health = health.Holds(Sender.Path.Name, core.Buffer.BytesHeld); });
        Command<StepRan>(m =>
        {
            Seen(work: true);
            health = health.Seen(core.Crew.Aggregator.Path.Name, DateTimeOffset.UtcNow, completesWork: true);
            Execute(core.StepRan(m));
        });
        Command<GradientAggregator.StepReduced>(r => Execute(core.Reduced(r)));
        Command<Snapshotted>(m => { Seen(); Execute(core.Snapshotted(m)); });
        Command<CheckpointWritten>(m => { Seen(work: true); health = health.CheckpointWrite(m.Elapsed); Execute(core.CheckpointWritten(m)); });
        Command<CheckpointWriteFailed>(f => Execute(core.Fail(f.Message, FailureKind.OutputNotWritable)));   // the newest checkpoint intact
        Command<CheckpointSpaceLow>(w => core.Crew.Listener.Tell(new TrainingNotice(w.Warning)));
        Command<WeightsExported>(m => { Seen(); Execute(core.Exported(m)); });
        Command<ReplicaReady>(m => Execute(core.ReplicaReady(Sender, m)));
        Command<ReplicaLost>(m => Execute(core.ReplicaLost(Sender, m)));
        Command<Evaluated>(m => { Seen(); Execute(core.Evaluated(m)); });
        Membership();
    }

    /// <summary>A completed run whose output is missing or damaged: reload the final checkpoint, export it again and
    /// check it against the journal's sha256 (bit for bit).</summary>
    void Restoring()
    {
        Command<LatestLoaded>(m => { Seen(); Execute(core.LatestLoaded(m)); });
        Command<WorkerReady>(m => { Seen(); health = health.Holds(Sender.Path.Name, m.ParameterCount * 16); Execute(core.RestoreReady(m)); });
        Command<WeightsExported>(m => { Seen(); Execute(core.Restored(m)); });
        Command<StopTraining>(_ => { });
        Membership();
    }

    /// <summary>What every phase but the end answers: worker nodes joining and leaving, worker-0's faults, the ops commands.</summary>
    void Membership()
    {
        Command<WorkerJoined>(m => Execute(core.WorkerJoined(m)));
        Command<WorkerLeft>(m => Execute(core.WorkerLeft(m)));
        Command<WorkerRestarted>(m => Execute(core.WorkerRestarted(m)));
        Command<ReloadWorker>(_ => Execute(core.Reload()));
        Command<Terminated>(t => Execute(core.Fail(StoppedAfterFailures(t.ActorRef), FailureKind.Unexpected)));
        Operations();
    }

    /// <summary>Completed, stopped or failed: the final report is out; queries are answered, a stop and late work are dropped.</summary>
    void Ended()
    {
        Operations();
        CommandAny(_ => { });
    }

    /// <summary>What every phase answers: status, health and the ops commands.</summary>
    void Operations()
    {
        Command<FetchTrainingStatus>(f => Sender.Tell(new TrainingStatus(f.RequestId, core.Journal)));
        Command<FetchActorHealth>(f => Sender.Tell(new ActorHealthReport(f.RequestId, Self.Path.ToStringWithoutAddress(), core.PhaseName, core.NextStep,
                                                                         core.Plan?.TotalSteps ?? core.Journal.TotalSteps, health)));
        Command<PauseTraining>(p => Execute(core.Pause(p.RequestId, Sender)));
        Command<ResumeTraining>(r => Execute(core.Resume(r.RequestId, Sender)));
        Command<SaveCheckpoint>(s => Execute(core.Save(s.RequestId, Sender)));
        Command<ChildRestarted>(c => health = health.Restarted(c.Name));
    }

    /// <summary>Open what the run needs (the output to check, or the dataset and the children), then let the state decide.</summary>
    void OnStart()
    {
        if (core.Journal.Completed)
        {
            var output = core.Journal.OutputPath(settings.RunDir, settings.OutputFileName)!;
            Execute(RunOutput.Problem(output, core.Journal.OutputSha256) is { } problem
                ? core.Restore(output, problem, core.Crew with { Writer = StartWriter(), Worker = StartWorker() })
                : core.AlreadyCompleted(output));
            return;
        }
        if (core.Journal.DifferencesFrom(settings) is { } differs) { Execute(core.Refuse(differs)); return; }
        ITokenizedDataset dataset;
        TrainingPlan plan;
        IReadOnlyList<MiniMind.Model.Evaluation.EvalSample>? heldOut = null;
        try
        {
            dataset = openDataset(settings);
            plan = TrainingPlan.For(dataset.Count, settings);
            if (settings.Eval is { } eval)
            {
                // the held-out file in the training data's stage format, prepared (and checked: file:line) the same way
                heldOut = EvalSettings.HeldOut(openDataset(settings with { DataPath = eval.DataPath }), settings.BatchSize, eval.Batches);
                if (heldOut.Sum(h => h.LossMask.Sum()) == 0)
                    throw new InvalidDataException($"{eval.DataPath}: no scored tokens in its first {eval.Batches} batch(es) of {settings.BatchSize} (--eval-data)");
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or ArgumentException)   // DataFormatException: file:line
        {
            Execute(core.Fail(e.Message, FailureKind.BadInput, step: 0));
            return;
        }
        var crew = core.Crew with
        {
            Loader = Context.ActorOf(DataLoader.Props(dataset, plan, settings.Seed), "data-loader"),
            Writer = StartWriter(CheckpointRun.Of(settings, plan.SampleCount, plan.TotalSteps)),
            Worker = StartWorker(),
            Aggregator = Context.ActorOf(GradientAggregator.Props(), "gradient-aggregator"),
        };
        foreach (var child in new[] { crew.Loader, crew.Writer, crew.Worker, crew.Aggregator }) health = health.Created(child.Path.Name);
        Execute(core.Begin(plan, dataset.Count, crew, heldOut));
    }

    IActorRef StartWriter(CheckpointRun? run = null) =>
        Context.ActorOf(CheckpointWriter.Props(settings.CheckpointDir, checkpointWriteDelay, run), "checkpoint-writer");

    IActorRef StartWorker() => Context.Watch(Context.ActorOf(GpuWorker.Props(Context.System, settings, faults), "worker-0"));

    void Seen(bool work = false) => health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow, completesWork: work);

    /// <summary>Take the decided state, do its effects in order, and Become the behaviour of its phase.</summary>
    void Execute(Decision decision)
    {
        var before = core.Phase;
        core = decision.State;
        foreach (var effect in decision.Effects) Do(effect);
        if (core.Phase == before) return;
        Become(core.Phase switch
        {
            RunPhase.Running or RunPhase.Paused or RunPhase.Stopping => Training,
            RunPhase.Restoring => Restoring,
            RunPhase.Starting => Starting,
            _ => Ended,
        });
        if (before == RunPhase.Starting) Stash.UnstashAll();
    }

    void Do(CoordinatorEffect effect)
    {
        switch (effect)
        {
            case CoordinatorEffect.Tell t: t.To.Tell(t.Message, t.Sender ?? Self); break;
            case CoordinatorEffect.Persist { Async: true } p:
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                PersistAsync(p.Event, e =>
                {
                    Execute(core.Persisted(e, p.Cause));
                    health = health.JournalWrite(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                });
                break;
            case CoordinatorEffect.Persist p: Persist(p.Event, e => Execute(core.Persisted(e, p.Cause))); break;
            case CoordinatorEffect.PersistAll p: PersistAll(p.Events, e => Execute(core.Persisted(e, null))); break;
            case CoordinatorEffect.AfterJournal a: DeferAsync(a, x => Do(x.Then)); break;
            case CoordinatorEffect.FanOut f:
                if (joiner.IsNobody()) joiner = Context.ActorOf(ReplicaJoiner.Props(), "replica-joiner");
                joiner.Tell(f.Message);
                break;
            case CoordinatorEffect.ReloadAfter r: Timers.StartSingleTimer("reload-worker", new ReloadWorker(), r.Delay); break;
            case CoordinatorEffect.LogWarning w: log.Warning(w.Text); break;
        }
    }

    /// <summary>Supervision: a worker fault (device error, OOM, injected) is retried: restart, reload the newest
    /// checkpoint and redo the steps since, at most 3 times a minute (then the worker stops and the run fails).
    /// Bad data or a missing/corrupt file cannot be fixed by retrying: escalate. Each restart is counted per child.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => supervision ??=
        new RestartCountingStrategy<ChildRestarted>(c => new ChildRestarted(c), 3, TimeSpan.FromMinutes(1), ex => ex switch
        {
            InvalidDataException or FileNotFoundException or DirectoryNotFoundException => Directive.Escalate,
            _ => Directive.Restart,
        });

    RestartCountingStrategy<ChildRestarted>? supervision;

    /// <summary>What the run says when a child stopped after too many restarts: its name and its last failure.</summary>
    string StoppedAfterFailures(IActorRef child) =>
        $"{child.Path.Name} stopped after repeated failures{(supervision?.LastCause(child.Path.Name) is { } cause ? $" (last: {cause})" : "")}";

    protected override void PreRestart(Exception reason, object message)
    {
        Report(SupervisionLog.Cause(reason), FailureKind.Unexpected);
        base.PreRestart(reason, message);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Report($"journal unavailable, nothing was changed: {Root(reason).Message}", JournalFault.Classify(reason), step: 0);
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Report($"journal write failed ({@event.GetType().Name}); the newest checkpoint is intact, re-run to resume: {Root(cause).Message}", JournalFault.Classify(cause));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        Report($"journal rejected {@event.GetType().Name}: {cause.Message}", FailureKind.JournalUnavailable);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    /// <summary>The coordinator itself failed: the listener hears it (effects only, the actor stops or restarts).</summary>
    void Report(string message, FailureKind kind, long? step = null)
    {
        foreach (var effect in core.Fail(message, kind, step).Effects) Do(effect);
    }

    static Exception Root(Exception e) => e.InnerException is null ? e : Root(e.InnerException);
}
