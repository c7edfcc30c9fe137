using Akka.Actor;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.CoordinatorEffect;
using static MiniMind.Actors.DataLoader;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>Where a run is, as <c>ctl actor health</c> shows it (lower case). The coordinator's behaviour (Become) follows it.</summary>
public enum RunPhase { Starting, Running, Paused, Stopping, Restoring, Completed, Stopped, Failed }

/// <summary>Worker-0 and the step in flight: loading a checkpoint, idle at a step boundary, running a step, or
/// finishing (final checkpoint, export, stop checkpoint, divergence: no new step).</summary>
public enum Pipeline { Loading, Idle, Stepping, Finishing }

/// <summary>What the coordinator does after a step is committed (<see cref="CoordinatorState.AfterStep"/>).</summary>
/// <param name="Report">send <see cref="TrainingProgress"/> (every log interval, the first and the last step)</param>
/// <param name="Finish">the last step: take the final checkpoint, then export</param>
/// <param name="Stop">a stop was asked for: checkpoint this step and end Stopped</param>
/// <param name="Checkpoint">take a checkpoint (save interval, or one asked for with SaveCheckpoint)</param>
public sealed record StepFollowUp(bool Report, bool Finish, bool Stop, bool Checkpoint);

/// <summary>Whom the coordinator tells: itself, the listener and its children (Nobody until started).</summary>
public sealed record Crew(IActorRef Self, IActorRef Listener, bool LocalCompute)
{
    public IActorRef Loader { get; init; } = ActorRefs.Nobody;
    public IActorRef Worker { get; init; } = ActorRefs.Nobody;
    public IActorRef Writer { get; init; } = ActorRefs.Nobody;
    public IActorRef Aggregator { get; init; } = ActorRefs.Nobody;
}

/// <summary>
/// The coordinator's state and decisions: the journaled <see cref="TrainingState"/>, the phase, worker-0's generation
/// and pipeline, the data buffer (<see cref="StepBuffer"/>), the replicas (<see cref="StepSchedule"/>), pause, stop
/// and checkpoint-on-demand requests. Each message is a pure function to a <see cref="Decision"/> (the next state and
/// the effects to execute); <see cref="Persisted"/> applies a journaled event and decides what follows. The held-out
/// evaluation's decisions are <see cref="EvalSchedule"/>'s, the snapshot and checkpoint-request bookkeeping
/// <see cref="SnapshotRequests"/>'s. Tested without
/// an ActorSystem, as Akka's ShardCoordinator keeps its CoordinatorState.
/// </summary>
public sealed partial record CoordinatorState(string RunId, TrainingSettings Settings, Crew Crew)
{
    public TrainingState Journal { get; init; } = TrainingState.Empty;
    /// <summary>Known once the run has begun (dataset opened).</summary>
    public TrainingPlan? Plan { get; init; }
    public RunPhase Phase { get; init; } = RunPhase.Starting;
    public Pipeline Pipeline { get; init; } = Pipeline.Loading;
    /// <summary>Tags worker-0's incarnation: replies of an older one are dropped. Bumped by every reload.</summary>
    public int Generation { get; init; }
    /// <summary>Worker faults so far (the reload backoff grows with them).</summary>
    public int Restarts { get; init; }
    public int GradientLength { get; init; }
    /// <summary>The next step to run (= steps done by worker-0).</summary>
    public long NextStep { get; init; }
    /// <summary>The step whose checkpoint ends a stop (-1: none).</summary>
    public long StopAtStep { get; init; } = -1;
    /// <summary>Snapshots asked of worker-0, and checkpoint requests waiting.</summary>
    public SnapshotRequests Snapshots { get; init; } = SnapshotRequests.None;
    /// <summary><see cref="TrainingBegan"/> went out (later worker reloads are notices).</summary>
    public bool Announced { get; init; }
    /// <summary>The checkpoint file the last reload started from (null: from scratch).</summary>
    public string? ResumedFrom { get; init; }
    /// <summary>Time worker-0 spent snapshotting for checkpoints since the last progress report.</summary>
    public TimeSpan CheckpointStall { get; init; }
    /// <summary>Restoring: the completed run's output to export again.</summary>
    public string? RestoreTo { get; init; }
    public StepBuffer Buffer { get; init; } = StepBuffer.Empty;
    public StepSchedule Schedule { get; init; } = StepSchedule.Empty;
    /// <summary>The held-out evaluation: what worker-0 scores and when (<see cref="EvalSchedule.None"/>: none).</summary>
    public EvalSchedule Eval { get; init; } = EvalSchedule.None;

    public string PhaseName => Phase.ToString().ToLowerInvariant();
    public bool Ended => Phase is RunPhase.Completed or RunPhase.Stopped or RunPhase.Failed;
    /// <summary>A new step may start (once its batches are there and a slot computes).</summary>
    public bool CanStartStep => Pipeline == Pipeline.Idle && Phase == RunPhase.Running;
    /// <summary>The steps done when a pause takes hold (the step in flight included).</summary>
    public long PausedAt => Pipeline == Pipeline.Stepping ? NextStep + 1 : NextStep;
    /// <summary>200 ms · 2^(restarts−1), at most 10 s.</summary>
    public TimeSpan ReloadDelay => TimeSpan.FromMilliseconds(Math.Min(10_000, 200 * Math.Pow(2, Math.Max(0, Restarts - 1))));

    public Decision Stay => new(this, []);
    Decision Do(params CoordinatorEffect[] effects) => new(this, [.. effects]);
    Tell Say(object message) => new(Crew.Listener, message);

    /// <summary>Recovery: a journaled event.</summary>
    public CoordinatorState Recovered(ITrainingEvent e) => this with { Journal = Journal.Apply(e) };

    /// <summary>An event is journaled: apply it, then what follows the write.</summary>
    public Decision Persisted(ITrainingEvent e, object? cause)
    {
        var s = this with { Journal = Journal.Apply(e) };
        return (e, cause) switch
        {
            (RunStarted, _) => s.Reload(),
            (CheckpointSaved, CheckpointWritten w) => s.Saved(w),
            (RunCompleted done, WeightsExported w) => s.End(RunPhase.Completed)
                .Do([.. s.Distribution(), s.Say(new TrainingFinished(Outcome.Completed, done.Step, w.Path, $"done: {done.Step} steps, wrote {w.Path}"))]),
            _ => s.Stay,
        };
    }

    // ---- starting ----

    /// <summary>The journal says the run completed and its output checks out.</summary>
    public Decision AlreadyCompleted(string output) => End(RunPhase.Completed)
        .Do(Say(new TrainingFinished(Outcome.AlreadyCompleted, Journal.CommittedStep, output, $"run already completed at step {Journal.CommittedStep}: {output}")));

    /// <summary>The completed run's output is missing or damaged (<paramref name="problem"/>): the journal vouches for its
    /// sha256, so export it again from the final checkpoint (bit for bit) with <paramref name="crew"/>'s writer and worker.</summary>
    public Decision Restore(string output, string problem, Crew crew) => (this with { Phase = RunPhase.Restoring, RestoreTo = output, Crew = crew })
        .Do(Say(new TrainingNotice($"warning: the completed run's output {output} {problem}; exporting it again from the checkpoint of step {Journal.CommittedStep}")))
        .Then(s => s.Reload());

    /// <summary>The settings are not this run's.</summary>
    public Decision Refuse(IReadOnlyList<string> differs) =>
        Fail($"{Settings.RunDir} holds a different {Settings.Stage} run (differs in: {string.Join(", ", differs)}); use another --run-dir", FailureKind.BadArguments);

    /// <summary>The dataset is open and the children are up: journal the run's start (once), then load worker-0.</summary>
    public Decision Begin(TrainingPlan plan, long sampleCount, Crew crew, IReadOnlyList<MiniMind.Model.Evaluation.EvalSample>? heldOut = null)
    {
        var s = this with { Plan = plan, Crew = crew, Phase = RunPhase.Running, Eval = EvalSchedule.For(Settings.Eval, heldOut) };
        return Journal.Started ? s.Reload() : s.Do(new Persist(new RunStarted(Settings.Stage, Settings.ToJson(), sampleCount, plan.TotalSteps)));
    }

    // ---- worker-0: load, ready, fault ----

    /// <summary>(Re)initialise worker-0 from the newest verified checkpoint, or from scratch: a new generation, every
    /// replica joins again.</summary>
    public Decision Reload()
    {
        var s = NewGeneration();
        return s.Do(new Tell(Crew.Writer, new LoadLatest(s.Generation, Journal.Checkpoints)));
    }

    public Decision LatestLoaded(LatestLoaded msg)
    {
        if (msg.Generation != Generation) return Stay;
        var effects = new List<CoordinatorEffect>();
        foreach (var (file, reason) in msg.Rejected)
        {
            effects.Add(Say(new TrainingNotice($"warning: checkpoint {file} is unusable ({reason}); falling back to the previous one")));
            effects.Add(new Persist(new CheckpointDiscarded(file, reason)));
        }
        if (msg.Checkpoint is null && Journal.CommittedStep > 0)
            effects.Add(Say(new TrainingNotice($"warning: no usable checkpoint; restarting from step 0 (the journal had {Journal.CommittedStep} steps)")));
        effects.Add(new Tell(Crew.Worker, new Initialize(Generation, msg.Checkpoint)));
        return (this with { ResumedFrom = msg.Record?.File }).Do([.. effects]);
    }

    public Decision WorkerReady(WorkerReady msg)
    {
        if (msg.Generation != Generation) return Stay;
        var d = (this with { Pipeline = Pipeline.Idle, NextStep = msg.Step, GradientLength = (int)msg.ParameterCount, Announced = true })
            .Do(Say(Announced ? new TrainingNotice($"worker restarted; redoing from step {msg.Step}")
                              : new TrainingBegan(msg.Step > 0, msg.Step, Plan!.TotalSteps, Plan.SampleCount, msg.ParameterCount, ResumedFrom)));
        if (msg.Step >= Plan!.TotalSteps) return d.Then(s => s.Export());
        if (Phase == RunPhase.Stopping) return d.Then(s => s.FinishStopped());
        return d.Then(s => s.JoinPending()).Then(s => s.Pump());
    }

    /// <summary>Worker-0 failed: drop its replies now (new generation) and reload after <see cref="ReloadDelay"/>.</summary>
    public Decision WorkerRestarted(WorkerRestarted msg)
    {
        var s = NewGeneration() with { Restarts = Restarts + 1 };
        var delay = s.ReloadDelay;
        return s.Do(Say(new WorkerFailed(msg.Reason, s.Restarts, delay)), new ReloadAfter(delay));
    }

    /// <summary>Worker-0's next incarnation: loading; replies and snapshots of the old one are dropped, every replica
    /// joins again.</summary>
    CoordinatorState NewGeneration() =>
        this with { Generation = Generation + 1, Pipeline = Pipeline.Loading, Snapshots = Snapshots.NewGeneration(), Schedule = Schedule.Reset() };

    // ---- the step pipeline ----

    public Decision Received(StepBatches batches) => (this with { Buffer = Buffer.Received(batches) }).Pump();

    /// <summary>Keep the loader one step ahead and, when a step may start, start it.</summary>
    public Decision Pump()
    {
        if (Plan is null || Pipeline == Pipeline.Finishing) return Stay;
        var (buffer, fetch) = Buffer.Prefetch(NextStep, Plan.TotalSteps);
        var d = (this with { Buffer = buffer }).Do([.. fetch.Select(step => new Tell(Crew.Loader, new FetchStepBatches(step)))]);
        return CanStartStep && buffer.For(NextStep) is { } batches ? d.Then(s => s.StartStep(batches)) : d;
    }

    /// <summary>The aggregator expects the step's micro-batches; the slots compute them (none: wait for a worker to join).
    /// A replica joining at this step boundary must be built first: the step's reduced gradient goes to it from the
    /// aggregator (its chunks over the bulk channel), the snapshot from the <see cref="ReplicaJoiner"/>, and nothing orders
    /// the two: a reduced gradient that reaches the node before <see cref="JoinRun"/> is dropped by the join's reset, and
    /// the replica would wait for it forever (the chaos suite's hang after a seed restart).</summary>
    Decision StartStep(StepBatches batches)
    {
        var slots = Schedule.Slots(Crew.Worker, Crew.LocalCompute);
        if (slots.Count == 0 || Schedule.AnyJoining) return Stay;
        var s = this with { Pipeline = Pipeline.Stepping, Buffer = Buffer.Started(batches), Schedule = Schedule.NewStep() };
        return s.Do(new Tell(Crew.Aggregator, new GradientAggregator.BeginStep(Generation, NextStep, batches.Micro.Count, GradientLength,
                        Plan!.LearningRateAt(NextStep), Crew.Worker, Crew.Self, s.Schedule.Followers)))
                .Then(x => x.Assign(batches, [.. Enumerable.Range(0, batches.Micro.Count)], slots));
    }

    /// <summary>Tell each assigned target its micro-batch (a remote node hears its whole group, to sum blocks locally).</summary>
    Decision Assign(StepBatches b, IReadOnlyList<int> micros, IReadOnlyList<IActorRef> slots)
    {
        var (schedule, assignments) = Schedule.Assign(micros, slots, Crew.Worker);
        return (this with { Schedule = schedule }).Do([.. assignments.Select(a => a.Target.Equals(Crew.Worker)
            ? new Tell(Crew.Worker, new ComputeGradients(Generation, b.Step, a.Micro, b.Micro.Count, b.Micro[a.Micro], Crew.Aggregator))
            : new Tell(a.Target, new RemoteCompute(Generation, b.Step, a.Micro, b.Micro.Count, b.Micro[a.Micro], a.Group), Crew.Aggregator))]);
    }

    public Decision Reduced(GradientAggregator.StepReduced r) => (this with { Schedule = Schedule.Reduced(r.MicroCount, r.Gradients, r.Blocks) }).Stay;

    /// <summary>Step <c>msg.Step</c> is applied: commit it, report, and take what the commit cadence asks for.</summary>
    public Decision StepRan(StepRan msg)
    {
        if (msg.Generation != Generation || msg.Step != NextStep) return Stay;
        if (!double.IsFinite(msg.Loss) || !double.IsFinite(msg.GradNorm))
        {
            // A NaN/∞ gradient has already been applied to the replicas: nothing of this step is journaled or
            // checkpointed, the run stops, and a re-run resumes from the newest checkpoint (all of whose weights are finite).
            var what = double.IsFinite(msg.Loss) ? $"the gradient norm is {msg.GradNorm}" : $"the loss is {msg.Loss}";
            return (this with { Pipeline = Pipeline.Finishing }).Fail($"step {msg.Step + 1}: {what} (diverged, or the data gave no loss tokens); nothing of this step was kept and " +
                $"the newest checkpoint (step {Journal.LatestCheckpoint?.Step ?? 0}) is intact: lower --learning-rate or check the data, then re-run to resume",
                FailureKind.Diverged, diverged: new Divergence(msg.Step + 1, what));
        }
        var done = msg.Step + 1;
        var lr = Plan!.LearningRateAt(msg.Step);
        var s = this with { Schedule = Schedule.NewStep(), Buffer = Buffer.Done(msg.Step), Pipeline = Pipeline.Idle, NextStep = done };
        var d = s.Do(new Persist(new StepCommitted(Plan.EpochOf(msg.Step), done, Plan.CursorAfter(msg.Step), msg.Loss, lr, msg.Tokens), Async: true),
                     Say(new StepMeasured(done, Plan.EpochOf(msg.Step), msg.Loss, lr, msg.GradNorm, msg.Tokens, msg.Elapsed, msg.Rl)));
        if (Eval.After(Generation, done, Plan.TotalSteps) is { } evaluate) d = d.Do(new Tell(Crew.Worker, evaluate));   // before the next step's work
        var next = s.AfterStep(done, Plan.TotalSteps, Settings.LogInterval, Settings.SaveInterval);
        if (next.Report)
            d = new Decision(s with { CheckpointStall = TimeSpan.Zero }, d.Effects).Do(Say(new TrainingProgress(done, Plan.TotalSteps, Plan.EpochOf(msg.Step),
                msg.Loss, lr, msg.GradNorm, msg.Tokens, msg.Elapsed, CheckpointStall, msg.Rl)));
        if (next.Finish) return d.Then(x => (x with { Pipeline = Pipeline.Finishing }).RequestSnapshot(done, checkpoint: true, join: false));
        if (next.Stop) return d.Then(x => x.FinishStopped());
        if (next.Checkpoint) d = d.Then(x => (x with { Snapshots = x.Snapshots with { CheckpointAfterStep = false } }).RequestSnapshot(done, checkpoint: true, join: false));
        return d.Then(x => x.JoinPending()).Then(x => x.Pump());
    }

    /// <summary>The commit cadence: what follows committing step <paramref name="done"/> (1-based count) of <paramref name="total"/>.
    /// The last step always takes the final checkpoint (a stop there is moot); otherwise a stop wins over a save.</summary>
    public StepFollowUp AfterStep(long done, long total, int logInterval, int saveInterval)
    {
        var report = done % Math.Max(1, logInterval) == 0 || done == total || done == 1;
        if (done == total) return new StepFollowUp(report, Finish: true, Stop: false, Checkpoint: false);
        if (Phase == RunPhase.Stopping) return new StepFollowUp(report, Finish: false, Stop: true, Checkpoint: false);
        return new StepFollowUp(report, Finish: false, Stop: false, Checkpoint: done % Math.Max(1, saveInterval) == 0 || Snapshots.CheckpointAfterStep);
    }

    /// <summary>Worker-0 scored the held-out set: the listener hears it (<see cref="EvalSchedule.Measured"/>).</summary>
    public Decision Evaluated(Evaluated msg) => EvalSchedule.Measured(msg, Generation) is { } measured ? Do(Say(measured)) : Stay;

    // ---- the end ----

    public Decision End(RunPhase phase) => (this with { Phase = phase }).Stay;

    public Decision Fail(string message, FailureKind kind, long? step = null, Divergence? diverged = null) =>
        End(RunPhase.Failed).Do(Say(new TrainingFinished(Outcome.Failed, step ?? Journal.CommittedStep, null, message, kind, diverged)));
}
