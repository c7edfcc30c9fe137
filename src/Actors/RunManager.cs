using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Persistence;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>
/// The cluster's coordinator role (issue 5), run as a cluster singleton on the seed: accepts runs from the control
/// endpoint (<see cref="StartRun"/>), journals them (<see cref="RunRequested"/>/<see cref="RunEnded"/>), runs the active
/// one's <see cref="TrainingCoordinator"/> as a child, keeps the worker nodes (registered through the singleton proxy,
/// dropped when they stop, become unreachable or are removed) and tells the coordinator about them. After a restart of
/// the seed (or a move of the singleton) recovery finds the unfinished run and starts its coordinator again, which
/// resumes from its own journal and newest checkpoint; workers re-register within seconds.
/// </summary>
public sealed class RunManager : ReceivePersistentActor
{
    /// <summary>Builds the props of a run's coordinator (under its backoff supervisor), reporting to <c>listener</c>.</summary>
    public delegate Props CoordinatorFactory(string runId, TrainingSettings settings, IActorRef listener);

    sealed record Run(RunRequested Request, RunEnded? End);
    sealed record Live(long Step, long Total, double Loss, double Lr, TrainingRate Rate, RunRates Rates, long InputPositionsPerStep, string? Message);
    /// <summary>The active run's history keys and when its previous step was committed (Stopwatch time).</summary>
    sealed record History(string PersistenceId, string RunName, string RunDir, bool TensorBoard, long InputPositionsPerStep, TimeSpan LastMark);

    readonly CoordinatorFactory coordinatorFactory;
    readonly bool resumeOnRecovery;
    readonly ILoggingAdapter log = Context.GetLogger();
    ImmutableList<Run> runs = [];
    readonly Dictionary<string, Live> live = [];
    readonly Dictionary<IActorRef, RegisterWorker> workers = [];
    IActorRef coordinator = ActorRefs.Nobody;
    string? activeRun;
    History? history;
    /// <summary>The newest membership and run notices (worker joined/left, micro-batches reassigned, …), oldest first.</summary>
    readonly Queue<string> events = new();

    void Event(string text)
    {
        events.Enqueue($"{DateTimeOffset.UtcNow:HH:mm:ss} {text}");
        while (events.Count > 50) events.Dequeue();
    }

    public RunManager(string persistenceId, CoordinatorFactory coordinatorFactory, bool resumeOnRecovery)
    {
        PersistenceId = persistenceId;
        this.coordinatorFactory = coordinatorFactory;
        this.resumeOnRecovery = resumeOnRecovery;

        Recover<RunRequested>(e => runs = runs.Add(new Run(e, null)));
        Recover<RunEnded>(Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            if (resumeOnRecovery && runs.LastOrDefault() is { End: null } unfinished) Launch(unfinished.Request, resumed: true);
        });

        Command<StartRun>(OnStartRun);
        Command<GetRunStatus>(g => Sender.Tell(Status(g.RunId)));
        Command<ListRuns>(_ => Sender.Tell(new RunList(runs.Select(r => Status(r.Request.RunId).Run!).ToList(),
            runs.ToDictionary(r => r.Request.RunId, r => TrainingSettings.FromJson(r.Request.SettingsJson).RunDir))));
        Command<RegisterWorker>(OnRegister);
        Command<Terminated>(t => Drop(t.ActorRef, "stopped"));
        Command<ClusterEvent.UnreachableMember>(u => DropAt(u.Member.Address, "unreachable"));
        Command<ClusterEvent.MemberRemoved>(u => DropAt(u.Member.Address, "removed from the cluster"));
        Command<ClusterEvent.IMemberEvent>(_ => { });
        Command<ClusterEvent.CurrentClusterState>(_ => { });
        // a (re)start: the next step is warm-up again, the window starts after it
        Command<StepMeasured>(OnStepMeasured);
        Command<EvalMeasured>(OnEvalMeasured);
        Command<TrainingBegan>(b => MarkHistory().Update(l => l with { Step = b.FromStep, Total = b.TotalSteps, Rate = new TrainingRate(), Rates = RunRates.Unknown }).Publish(b));
        Command<TrainingProgress>(p => OnProgress(p).Publish(p));
        Command<TrainingNotice>(n => { Publish(n); log.Info("run {0}: {1}", activeRun, n.Text); Event(n.Text); Update(l => l with { Message = n.Text }); });
        Command<TrainingFinished>(OnFinished);
    }

    public override string PersistenceId { get; }

    /// <param name="resumeOnRecovery">A seed: recovery starts the unfinished run's coordinator again. A <c>minimind
    /// train</c> process: no; the command's own <see cref="StartRun"/> resumes it (same stage and run dir: same run id).</param>
    public static Props Props(string persistenceId, CoordinatorFactory coordinatorFactory, bool resumeOnRecovery = true) =>
        Akka.Actor.Props.Create(() => new RunManager(persistenceId, coordinatorFactory, resumeOnRecovery));

    /// <summary>The journal could not be read: nothing can start (published so a waiting <c>train</c> can say so).</summary>
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        Context.System.EventStream.Publish(new RunManagerFailed($"journal unreachable or unreadable: {reason.Message}", JournalFault.Classify(reason)));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        Context.System.EventStream.Publish(new RunManagerFailed($"journal write failed: {cause.Message}", JournalFault.Classify(cause)));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void PreStart()
    {
        base.PreStart();
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.UnreachableMember), typeof(ClusterEvent.MemberRemoved));
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    /// <summary>Reports of the active run also go to the local EventStream (the control endpoint's monitor).</summary>
    RunManager Publish(object report)
    {
        if (activeRun is { } id) Context.System.EventStream.Publish(new RunReported(id, report, live.GetValueOrDefault(id)?.Rates ?? RunRates.Unknown));
        return this;
    }

    void Apply(RunEnded e) => runs = runs.Select(r => r.Request.RunId == e.RunId ? r with { End = e } : r).ToImmutableList();

    void OnStartRun(StartRun msg)
    {
        if (activeRun is not null)
        {
            Sender.Tell(new RunRejected($"run {activeRun} is still running; wait for it (ctl train status --wait) or start the next stage afterwards"));
            return;
        }
        var settings = TrainingSettings.FromJson(msg.SettingsJson);
        var sender = Sender;
        // The same stage in the same run dir as an unfinished run (its process was killed): that run again, resumed.
        if (runs.LastOrDefault(r => r.End is null && SameRun(r.Request, settings)) is { } unfinished)
        {
            var again = unfinished.Request with { SettingsJson = msg.SettingsJson };
            runs = runs.Select(r => r.Request.RunId == again.RunId ? r with { Request = again } : r).ToImmutableList();
            Launch(again, resumed: true);
            sender.Tell(new RunAccepted(again.RunId));
            return;
        }
        // Others left unfinished (not resumed on recovery) are over: they would show as running for ever.
        PersistAll(runs.Where(r => r.End is null)
            .Select(stale => new RunEnded(stale.Request.RunId, "stopped", "interrupted (the process ended); not resumed", 0, null)).ToList(), Apply);
        var runId = $"{msg.Stage}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..4]}";
        Persist(new RunRequested(runId, msg.Stage, msg.SettingsJson, DateTimeOffset.UtcNow), e =>
        {
            runs = runs.Add(new Run(e, null));
            Launch(e, resumed: false);
            sender.Tell(new RunAccepted(runId));
        });
    }

    static bool SameRun(RunRequested request, TrainingSettings settings) =>
        RunIdentity.CoordinatorPersistenceId(TrainingSettings.FromJson(request.SettingsJson)) == RunIdentity.CoordinatorPersistenceId(settings);

    void Launch(RunRequested request, bool resumed)
    {
        var settings = TrainingSettings.FromJson(request.SettingsJson);
        activeRun = request.RunId;
        history = new History(RunIdentity.CoordinatorPersistenceId(settings), settings.RunName, settings.RunDir, settings.TensorBoard,
            TrainingRate.InputPositionsPerStep(settings), System.Diagnostics.Stopwatch.GetElapsedTime(0));
        live[request.RunId] = new Live(0, 0, double.NaN, 0, new TrainingRate(), RunRates.Unknown, TrainingRate.InputPositionsPerStep(settings),
            resumed ? "resuming after a coordinator restart" : null);
        coordinator = Context.ActorOf(coordinatorFactory(request.RunId, settings, Self), $"run-{request.RunId}");
        Context.System.EventStream.Publish(new RunLaunched(request.RunId, request.Stage, settings.RunDir, coordinator));
        Context.System.EventStream.Publish(new RunHistoryBegan(request.RunId, history.PersistenceId, settings.RunName, request.Stage, settings.RunDir, request.SettingsJson));
        foreach (var (worker, reg) in workers) coordinator.Tell(new WorkerJoined(worker, reg.Node, reg.Device));
        log.Info("run {0} ({1}) {2} with {3} worker node(s)", request.RunId, request.Stage, resumed ? "resumed" : "started", workers.Count);
        Event($"run {request.RunId} {(resumed ? "resumed after a coordinator restart" : "started")} with {workers.Count} worker node(s)");
    }

    void OnRegister(RegisterWorker msg)
    {
        if (workers.ContainsKey(Sender)) return;
        workers[Sender] = msg;
        Context.Watch(Sender);
        log.Info("worker {0} ({1}) registered", msg.Node, msg.Device);
        Event($"worker {msg.Node} ({msg.Device}) registered");
        if (!coordinator.IsNobody()) coordinator.Tell(new WorkerJoined(Sender, msg.Node, msg.Device));
    }

    void DropAt(Address address, string reason)
    {
        foreach (var w in workers.Keys.Where(w => w.Path.Address == address).ToList()) Drop(w, reason);
    }

    void Drop(IActorRef worker, string reason)
    {
        if (!workers.Remove(worker, out var reg)) return;
        Context.Unwatch(worker);
        log.Info("worker {0} {1}", reg.Node, reason);
        Event($"worker {reg.Node} {reason}");
        if (!coordinator.IsNobody()) coordinator.Tell(new WorkerLeft(worker, reason));
    }

    RunManager Update(Func<Live, Live> change)
    {
        if (activeRun is not null && live.TryGetValue(activeRun, out var l)) live[activeRun] = change(l);
        return this;
    }

    /// <summary>The run's rates, computed here once for every view of the run (see <see cref="TrainingRate"/>).</summary>
    RunManager OnProgress(TrainingProgress p)
    {
        var at = System.Diagnostics.Stopwatch.GetElapsedTime(0);
        return Update(l =>
        {
            var rate = l.Rate.Add(p.Step, at);
            return l with
            {
                Step = p.Step, Total = p.TotalSteps, Loss = p.Loss, Lr = p.Lr, Rate = rate,
                Rates = RunRates.Of(rate, l.InputPositionsPerStep, p.StepTokens, p.TotalSteps),
            };
        });
    }

    RunManager MarkHistory()
    {
        if (history is not null) history = history with { LastMark = System.Diagnostics.Stopwatch.GetElapsedTime(0) };
        return this;
    }

    /// <summary>A committed step, for the run's durable history: its wall time (since the previous commit, or since training
    /// began) and the rates of this one step by <see cref="TrainingRate"/>'s definition. Never blocks: the recorder writes.</summary>
    void OnStepMeasured(StepMeasured m)
    {
        if (history is not { } h) return;
        var now = System.Diagnostics.Stopwatch.GetElapsedTime(0);
        var seconds = (now - h.LastMark).TotalSeconds;
        history = h with { LastMark = now };
        var row = new MetricsRow(m.Step, m.Epoch, m.Loss, m.Lr, m.GradNorm, m.LossTokens,
            seconds > 0 ? h.InputPositionsPerStep / seconds : 0, seconds > 0 ? m.LossTokens / seconds : 0, seconds,
            m.ComputeTime.TotalSeconds, Environment.WorkingSet, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), m.Rl);
        Context.System.EventStream.Publish(new StepRecorded(h.PersistenceId, h.RunName, h.RunDir, h.TensorBoard, row));
    }

    /// <summary>A held-out evaluation: the run's output (the log line) and its durable history.</summary>
    void OnEvalMeasured(EvalMeasured m)
    {
        Publish(m);
        if (history is { } h)
            Context.System.EventStream.Publish(new EvalRecorded(h.PersistenceId, h.RunName, h.RunDir, h.TensorBoard,
                new EvalRow(m.Step, m.Loss, m.Perplexity, m.Tokens, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())));
    }

    /// <summary>The run's end is journaled before it is published: whoever waits for it (a <c>train</c> process about to
    /// exit) finds it in the journal next time.</summary>
    void OnFinished(TrainingFinished f)
    {
        if (activeRun is not { } runId) return;
        var outcome = f.Outcome == Outcome.AlreadyCompleted ? Outcome.Completed : f.Outcome;
        Persist(new RunEnded(runId, outcome.ToString().ToLowerInvariant(), f.Message, f.Step, f.OutputFile, f.Failure), e =>
        {
            Apply(e);
            Update(l => l with { Step = Math.Max(l.Step, e.Step), Message = e.Message });
            Publish(f);
            if (history is { } h) Context.System.EventStream.Publish(new RunHistoryEnded(h.PersistenceId));
            history = null;
            Context.Stop(coordinator);
            coordinator = ActorRefs.Nobody;
            activeRun = null;
        });
    }

    RunStatusReply Status(string? runId)
    {
        var nodes = workers.Values.Select(w => $"{w.Node} ({w.Device})").Order(StringComparer.Ordinal).ToList();
        var run = runId is null ? runs.LastOrDefault() : runs.FirstOrDefault(r => r.Request.RunId == runId);
        if (run is null) return new RunStatusReply(null, nodes, [.. events]);
        var r = run.Request;
        live.TryGetValue(r.RunId, out var l);
        var state = run.End?.Outcome ?? "running";
        var view = new RunView(r.RunId, r.Stage, state, run.End?.Step ?? l?.Step ?? 0, l?.Total ?? 0, l is null || double.IsNaN(l.Loss) ? null : l.Loss, l?.Lr ?? 0,
            l?.Rates.TokensPerSecond ?? 0, run.End?.Outcome, run.End?.Message ?? l?.Message, run.End?.OutputFile, r.At, workers.Count,
            l?.Rates.LossTokensPerSecond ?? 0, run.End?.Failure ?? TrainingCoordinator.FailureKind.None);
        return new RunStatusReply(view, nodes, [.. events]);
    }
}
