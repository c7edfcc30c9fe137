using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Actors.Stages;
using MiniMind.Model.Data;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors;

/// <summary>
/// Drives one training stage of one run dir. Commands in, events out: it persists <see cref="RunStarted"/>,
/// <see cref="StepCommitted"/> (PersistAsync: per-step latency matters, and a lost one is just redone),
/// <see cref="CheckpointSaved"/>, <see cref="CheckpointDiscarded"/> and <see cref="RunCompleted"/> (Persist: what
/// follows depends on the write). State is a <see cref="TrainingState"/> changed only by its Apply functions.
/// Children: a <see cref="DataLoader"/>, a <see cref="GpuWorker"/> and a <see cref="CheckpointWriter"/>.
/// Resume = newest verified checkpoint (model + AdamW + RNG + step); LR and data position follow from the step.
/// Starts (or resumes) by itself once recovery completes, reporting to <c>listener</c>.
/// </summary>
public sealed partial class TrainingCoordinator : ReceivePersistentActor, IWithTimers
{
    readonly TrainingSettings settings;
    readonly Func<TrainingSettings, ITokenizedDataset> openDataset;
    readonly IActorRef listener;
    readonly FaultPlan faults;
    readonly TimeSpan checkpointWriteDelay;
    readonly ILoggingAdapter log = Context.GetLogger();

    /// <summary>Replicas, assignment, join and leave: decided by <see cref="StepSchedule"/>, told by the dispatcher.</summary>
    readonly StepDispatcher dispatch;

    TrainingState state = TrainingState.Empty;
    TrainingPlan? plan;
    IActorRef loader = ActorRefs.Nobody, worker = ActorRefs.Nobody, writer = ActorRefs.Nobody, aggregator = ActorRefs.Nobody;
    int gradientLength;
    /// <summary>Phase, generation, the step pipeline, pause, stop and checkpoint on demand: decided by
    /// <see cref="CoordinatorState"/>'s pure functions.</summary>
    CoordinatorState control = CoordinatorState.Initial;
    /// <summary>Delivered, requested and in-flight batches: <see cref="StepBuffer"/>'s pure functions.</summary>
    StepBuffer buffer = StepBuffer.Empty;
    // operations
    HealthBook health = HealthBook.Empty;

    public TrainingCoordinator(string persistenceId, TrainingSettings settings, Func<TrainingSettings, ITokenizedDataset> openDataset,
                               IActorRef listener, FaultPlan faults, TimeSpan checkpointWriteDelay, bool localCompute = true)
    {
        PersistenceId = persistenceId;
        this.settings = settings;
        this.openDataset = openDataset;
        this.listener = listener;
        this.faults = faults;
        this.checkpointWriteDelay = checkpointWriteDelay;
        dispatch = new StepDispatcher(Context, settings, listener, localCompute);

        Recover<ITrainingEvent>(e => state = state.Apply(e));
        Recover<RecoveryCompleted>(_ => Self.Tell(StartTraining.Instance));

        Training();
    }

    /// <summary>Starting, running, paused or stopping: the run's work.</summary>
    void Training()
    {
        Operations();
        Command<StopTraining>(OnStop);
        Command<StartTraining>(_ => OnStart());
        Command<LatestLoaded>(OnLatestLoaded);
        Command<WorkerReady>(OnWorkerReady);
        Command<DataLoader.StepBatches>(b =>
        {
            buffer = buffer.Received(b);
            health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow, completesWork: true).Holds(Sender.Path.Name, buffer.BytesHeld);
            Pump();
        });
        Command<StepRan>(OnStepRan);
        Command<GradientAggregator.StepReduced>(dispatch.Reduced);
        Command<Snapshotted>(OnSnapshotted);
        Command<WorkerJoined>(OnWorkerJoined);
        Command<WorkerLeft>(OnWorkerLeft);
        Command<ReplicaReady>(OnReplicaReady);
        Command<ReplicaLost>(msg =>
        {
            if (msg.Generation != control.Generation || !dispatch.Schedule.Replicas.TryGetValue(Sender, out var r)) return;
            var w = Sender;
            OnWorkerLeft(new WorkerLeft(w, $"its replica failed: {msg.Reason}"));
            OnWorkerJoined(new WorkerJoined(w, r.Node, r.Device));
        });
        Command<CheckpointWritten>(OnCheckpointWritten);
        Command<CheckpointWriteFailed>(f => Fail(f.Message));   // a full disk: exit 4, the newest checkpoint intact
        Command<CheckpointSpaceLow>(w => listener.Tell(new TrainingNotice(w.Warning)));
        Command<WeightsExported>(OnWeightsExported);
        Command<WorkerRestarted>(OnWorkerRestarted);
        Command<ReloadWorker>(_ => Reload());
        Command<Terminated>(t => Fail($"{t.ActorRef.Path.Name} stopped after repeated failures"));
    }

    /// <summary>A completed run whose output is missing or damaged: reload the final checkpoint, export it to
    /// <paramref name="output"/> again and check it against the journal's sha256 (bit for bit).</summary>
    void Restoring(string output)
    {
        Operations();
        Command<StopTraining>(OnStop);
        Command<LatestLoaded>(OnLatestLoaded);
        Command<WorkerReady>(msg =>
        {
            health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow).Holds(Sender.Path.Name, msg.ParameterCount * 16);
            if (msg.Generation != control.Generation) return;
            if (msg.Step == state.CommittedStep) worker.Tell(new ExportWeights(control.Generation, output));
            else Fail($"the completed run's output is missing or damaged and its final checkpoint (step {state.CommittedStep}) is not usable " +
                      $"(newest usable: step {msg.Step}); use another --run-dir to train again");
        });
        Command<WeightsExported>(msg =>
        {
            health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow);
            if (msg.Generation != control.Generation) return;
            if (msg.Sha256 != state.OutputSha256)
            {
                Fail($"the output exported again from step {state.CommittedStep} ({msg.Path}) has sha256 {msg.Sha256}, not the journal's {state.OutputSha256}");
                return;
            }
            End(RunPhase.Completed);
            listener.Tell(new TrainingNotice($"restored {msg.Path} from the checkpoint of step {state.CommittedStep} (sha256 matches the journal)"));
            listener.Tell(new TrainingFinished(Outcome.AlreadyCompleted, state.CommittedStep, msg.Path,
                $"run already completed at step {state.CommittedStep}: {msg.Path} (restored)"));
        });
        Command<WorkerJoined>(OnWorkerJoined);
        Command<WorkerLeft>(OnWorkerLeft);
        Command<WorkerRestarted>(OnWorkerRestarted);
        Command<ReloadWorker>(_ => Reload());
        Command<Terminated>(t => Fail($"{t.ActorRef.Path.Name} stopped after repeated failures"));
    }

    /// <summary>Completed, stopped or failed: the final report is out; queries are answered, a stop and late work are dropped.</summary>
    void Ended()
    {
        Operations();
        CommandAny(_ => { });
    }

    /// <summary>The run ends in <paramref name="phase"/>; the caller reports it.</summary>
    void End(RunPhase phase)
    {
        control = control.End(phase);
        Become(Ended);
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="localCompute">worker-0 (the coordinator's replica) computes micro-batches; off on a seed node
    /// without --device, where it only applies updates, snapshots and exports (and computes orphaned micro-batches when
    /// no worker node is left).</param>
    public static Props Props(string persistenceId, TrainingSettings settings, Func<TrainingSettings, ITokenizedDataset> openDataset,
                              IActorRef listener, FaultPlan? faults = null, TimeSpan checkpointWriteDelay = default, bool localCompute = true) =>
        Akka.Actor.Props.Create(() => new TrainingCoordinator(persistenceId, settings, openDataset, listener, faults ?? FaultPlan.None, checkpointWriteDelay, localCompute));

    void OnStart()
    {
        if (control.Begun) return;
        control = control.Begin();
        if (state.Completed)
        {
            var output = state.OutputPath(settings.RunDir, settings.OutputFileName)!;
            var problem = RunOutput.Problem(output, state.OutputSha256);
            if (problem is null)
            {
                End(RunPhase.Completed);
                listener.Tell(new TrainingFinished(Outcome.AlreadyCompleted, state.CommittedStep, output,
                    $"run already completed at step {state.CommittedStep}: {output}"));
                return;
            }
            // The journal vouches for the output's sha256: export it again from the final checkpoint (bit for bit).
            listener.Tell(new TrainingNotice($"warning: the completed run's output {output} {problem}; exporting it again from the checkpoint of step {state.CommittedStep}"));
            control = control.Restoring();
            Become(() => Restoring(output));
            writer = Context.ActorOf(CheckpointWriter.Props(settings.CheckpointDir, checkpointWriteDelay), "checkpoint-writer");
            worker = Context.ActorOf(GpuWorker.Props(Context.System, settings, faults), "worker-0");
            dispatch.Attach(worker, aggregator);
            Context.Watch(worker);
            Reload();
            return;
        }
        if (state.DifferencesFrom(settings) is { } differs)
        {
            End(RunPhase.Failed);
            listener.Tell(new TrainingFinished(Outcome.Failed, state.CommittedStep, null,
                $"{settings.RunDir} holds a different {settings.Stage} run (differs in: {string.Join(", ", differs)}); use another --run-dir"));
            return;
        }
        ITokenizedDataset dataset;
        try
        {
            dataset = openDataset(settings);
            plan = TrainingPlan.For(dataset.Count, settings);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
        {
            End(RunPhase.Failed);
            listener.Tell(new TrainingFinished(Outcome.Failed, 0, null, e.Message));
            return;
        }
        loader = Context.ActorOf(DataLoader.Props(dataset, plan, settings.Seed), "data-loader");
        writer = Context.ActorOf(CheckpointWriter.Props(settings.CheckpointDir, checkpointWriteDelay, CheckpointRun.Of(settings, plan.SampleCount, plan.TotalSteps)), "checkpoint-writer");
        worker = Context.ActorOf(GpuWorker.Props(Context.System, settings, faults), "worker-0");
        aggregator = Context.ActorOf(GradientAggregator.Props(), "gradient-aggregator");
        dispatch.Attach(worker, aggregator);
        Context.Watch(worker);
        foreach (var child in new[] { loader, writer, worker, aggregator }.Where(c => !c.IsNobody()))
            health = health.Created(child.Path.Name);
        control = control.Began();
        if (!state.Started)
            Persist(new RunStarted(settings.Stage, settings.ToJson(), dataset.Count, plan.TotalSteps), e => { state = state.Apply(e); Reload(); });
        else
            Reload();
    }

    /// <summary>(Re)initialise the worker from the newest verified checkpoint, or from scratch.</summary>
    void Reload()
    {
        control = control.Reloading();
        dispatch.Reset();
        writer.Tell(new LoadLatest(control.Generation, state.Checkpoints));
    }

    void OnLatestLoaded(LatestLoaded msg)
    {
        health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow);
        if (msg.Generation != control.Generation) return;
        foreach (var (file, reason) in msg.Rejected)
        {
            listener.Tell(new TrainingNotice($"warning: checkpoint {file} is unusable ({reason}); falling back to the previous one"));
            Persist(new CheckpointDiscarded(file, reason), e => state = state.Apply(e));
        }
        if (msg.Checkpoint is null && state.CommittedStep > 0)
            listener.Tell(new TrainingNotice($"warning: no usable checkpoint; restarting from step 0 (the journal had {state.CommittedStep} steps)"));
        control = control.Loaded(msg.Record?.File);
        worker.Tell(new Initialize(control.Generation, msg.Checkpoint));
    }

    void OnWorkerReady(WorkerReady msg)
    {
        // fp32 weights, gradients and AdamW's two moments
        health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow).Holds(Sender.Path.Name, msg.ParameterCount * 16);
        if (msg.Generation != control.Generation) return;
        control = control.WorkerIsReady(msg.Step);
        gradientLength = (int)msg.ParameterCount;
        (control, var first) = control.Announce();
        if (first) listener.Tell(new TrainingBegan(msg.Step > 0, msg.Step, plan!.TotalSteps, plan.SampleCount, msg.ParameterCount, control.ResumedFrom));
        else listener.Tell(new TrainingNotice($"worker restarted; redoing from step {msg.Step}"));
        if (control.NextStep >= plan!.TotalSteps) { Finish(); return; }
        if (control.StopRequested) { FinishStopped(); return; }
        JoinPending();
        Pump();
    }

    /// <summary>Keep the worker busy and the loader one step ahead.</summary>
    void Pump()
    {
        if (plan is null || control.Finishing) return;
        (buffer, var fetch) = buffer.Prefetch(control.NextStep, plan.TotalSteps);
        foreach (var s in fetch) loader.Tell(new DataLoader.FetchStepBatches(s));
        if (control.CanStartStep && buffer.For(control.NextStep) is { } batches)
        {
            var slots = dispatch.Slots();
            if (slots.Count == 0) return;   // no worker yet: wait for one to join
            control = control.StepStarted();
            buffer = buffer.Started(batches);
            dispatch.StartStep(control.Generation, control.NextStep, batches, gradientLength, plan.LearningRateAt(control.NextStep), slots);
        }
    }

    void OnWorkerJoined(WorkerJoined msg)
    {
        if (dispatch.Joined(msg)) JoinPending();
    }

    void OnWorkerLeft(WorkerLeft msg) => dispatch.Left(msg, control.Generation, control.StepInFlight ? buffer.InFlight : null);

    void OnReplicaReady(ReplicaReady msg)
    {
        if (msg.Generation == control.Generation && dispatch.Ready(Sender, msg.Step)) Pump();
    }

    /// <summary>At a step boundary, pending workers become replicas of the state at <c>NextStep</c>: one snapshot of
    /// worker-0 (model, AdamW, RNG), fanned out by the dispatcher's <see cref="ReplicaJoiner"/>.</summary>
    void JoinPending()
    {
        if (control.Idle && plan is not null && dispatch.StartJoin(control.NextStep))
            RequestSnapshot(control.NextStep, checkpoint: false, join: true);
    }

    void RequestSnapshot(long step, bool checkpoint, bool join)
    {
        (control, var send) = control.RequestSnapshot(step, checkpoint, join);
        if (send) worker.Tell(new Snapshot(control.Generation, step));
    }

    void OnSnapshotted(Snapshotted s)
    {
        health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow);
        if (s.Generation != control.Generation) return;
        (control, var purpose) = control.Snapshotted(s.Checkpoint.Step);
        if (purpose is null) return;
        if (purpose.Checkpoint)
        {
            control = control.Stalled(s.Elapsed);
            writer.Tell(new WriteCheckpoint(s.Generation, s.Checkpoint));
        }
        if (purpose.Join) dispatch.FanOut(PersistenceId, control.Generation, s.Checkpoint);
    }

    void OnStepRan(StepRan msg)
    {
        var now = DateTimeOffset.UtcNow;
        health = health.Seen(Sender.Path.Name, now, completesWork: true);
        health = health.Seen(aggregator.Path.Name, now, completesWork: true);
        if (msg.Generation != control.Generation || msg.Step != control.NextStep) return;
        if (!double.IsFinite(msg.Loss) || !double.IsFinite(msg.GradNorm))
        {
            // A NaN/∞ gradient has already been applied to the replicas: nothing of this step is journaled or
            // checkpointed, the run stops, and a re-run resumes from the newest checkpoint (all of whose weights are finite).
            control = control.Diverged();
            var what = double.IsFinite(msg.Loss) ? $"the gradient norm is {msg.GradNorm}" : $"the loss is {msg.Loss}";
            Fail($"step {msg.Step + 1}: {what} (diverged, or the data gave no loss tokens); nothing of this step was kept and " +
                 $"the newest checkpoint (step {state.LatestCheckpoint?.Step ?? 0}) is intact: lower --learning-rate or check the data, then re-run to resume");
            return;
        }
        dispatch.NewStep();
        buffer = buffer.Done(msg.Step);
        var done = msg.Step + 1;
        control = control.StepDone(done);
        var lr = plan!.LearningRateAt(msg.Step);
        var persistStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        PersistAsync(new StepCommitted(plan.EpochOf(msg.Step), done, plan.CursorAfter(msg.Step), msg.Loss, lr, msg.Tokens), e =>
        {
            state = state.Apply(e);
            health = health.JournalWrite(System.Diagnostics.Stopwatch.GetElapsedTime(persistStarted));
        });
        var next = control.AfterStep(done, plan.TotalSteps, settings.LogInterval, settings.SaveInterval);
        if (next.Report)
        {
            listener.Tell(new TrainingProgress(done, plan.TotalSteps, plan.EpochOf(msg.Step), msg.Loss, lr, msg.GradNorm, msg.Tokens, msg.Elapsed, control.CheckpointStall));
            control = control.StallReported();
        }
        if (next.Finish)
        {
            control = control.Finish();
            RequestSnapshot(done, checkpoint: true, join: false);
            return;
        }
        if (next.Stop)
        {
            FinishStopped();
            return;
        }
        if (next.Checkpoint)
        {
            control = control.SaveTaken();
            RequestSnapshot(done, checkpoint: true, join: false);
        }
        JoinPending();
        Pump();
    }

    void OnStop(StopTraining msg)
    {
        if (control.StopRequested) return;
        control = control.Stop();
        if (!control.Begun || plan is null || control.Finishing) return;
        if (control.WorkerReady && !control.StepInFlight) FinishStopped();
    }

    /// <summary>Checkpoint the state after the last finished step (unless the newest checkpoint already is it), then report.</summary>
    void FinishStopped()
    {
        control = control.StoppingAt();
        if (state.LatestCheckpoint?.Step == control.NextStep)
            Stopped(control.NextStep, $"stopped at step {control.NextStep}; checkpoint {state.LatestCheckpoint.File}");
        else
            RequestSnapshot(control.NextStep, checkpoint: true, join: false);
    }

    void Stopped(long step, string message)
    {
        End(RunPhase.Stopped);
        listener.Tell(new TrainingFinished(Outcome.Stopped, step, null, message));
    }

    void OnCheckpointWritten(CheckpointWritten msg)
    {
        health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow, completesWork: true).CheckpointWrite(msg.Elapsed);
        Persist(new CheckpointSaved(msg.File, msg.Sha256, msg.Step), e =>
        {
            state = state.Apply(e);
            ReplySaved(msg.File, msg.Step);
            var prunable = state.Prunable(settings.KeepCheckpoints);
            if (prunable.Count > 0)
            {
                PersistAll(prunable.Select(p => new CheckpointDiscarded(p.File, "pruned")), d => state = state.Apply(d));
                DeferAsync(prunable, p => writer.Tell(new DeleteCheckpoints(p.Select(c => c.File).ToList())));
            }
            if (msg.Generation != control.Generation) return;
            if (msg.Step == plan!.TotalSteps) Finish();
            else if (msg.Step == control.StopAtStep)
                Stopped(msg.Step, $"stopped at step {msg.Step}; checkpoint {msg.File}");
        });
    }

    /// <summary>All steps done and checkpointed: write MiniMind's output file.</summary>
    void Finish()
    {
        control = control.Finish();
        worker.Tell(new ExportWeights(control.Generation, Path.Combine(settings.RunDir, settings.OutputFileName)));
    }

    void OnWeightsExported(WeightsExported msg)
    {
        health = health.Seen(Sender.Path.Name, DateTimeOffset.UtcNow);
        if (msg.Generation != control.Generation) return;
        // Journaled relative to the run dir, so a copied or moved run dir finds its own output.
        var relative = Path.GetRelativePath(Path.GetFullPath(settings.RunDir), Path.GetFullPath(msg.Path));
        Persist(new RunCompleted(relative, msg.Sha256, plan!.TotalSteps), e =>
        {
            state = state.Apply(e);
            End(RunPhase.Completed);
            dispatch.ReportDistribution();
            listener.Tell(new TrainingFinished(Outcome.Completed, e.Step, msg.Path, $"done: {e.Step} steps, wrote {msg.Path}"));
        });
    }

    void OnWorkerRestarted(WorkerRestarted msg)
    {
        control = control.WorkerFailed();            // drop replies of the failed incarnation now
        var delay = control.ReloadDelay;
        log.Warning("worker failed ({0}); restart {1}, reloading in {2} ms", msg.Reason, control.Restarts, delay.TotalMilliseconds);
        listener.Tell(new TrainingNotice($"warning: worker failed ({msg.Reason}); reloading the newest checkpoint in {delay.TotalMilliseconds:0} ms"));
        dispatch.Reset();
        Timers.StartSingleTimer("reload-worker", new ReloadWorker(), delay);
    }

    void Fail(string message)
    {
        End(RunPhase.Failed);
        listener.Tell(new TrainingFinished(Outcome.Failed, state.CommittedStep, null, message));
    }
}
