using Akka.Actor;
using Akka.Persistence;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Nodes;

/// <summary>A run started on this node's run manager and followed from here (<c>minimind train</c>, the tests): its
/// reports (TrainingBegan/Progress/Notice/Finished, from the run manager's <see cref="RunReported"/>) go to a callback;
/// <see cref="Finished"/> completes once the run's end is journaled.</summary>
public sealed class LocalRun
{
    readonly ActorSystem system;
    readonly TrainingSettings settings;

    LocalRun(ActorSystem system, TrainingSettings settings, string? runId, IActorRef coordinator, Task<TrainingFinished> finished)
    {
        this.system = system;
        this.settings = settings;
        RunId = runId;
        Coordinator = coordinator;
        Finished = finished;
    }

    /// <summary>The run manager's id of the run (null when the run manager could not start it).</summary>
    public string? RunId { get; }

    /// <summary>The run's coordinator (its BackoffSupervisor, which forwards every message).</summary>
    public IActorRef Coordinator { get; }

    public Task<TrainingFinished> Finished { get; }

    /// <summary>Ctrl+C: finish the current step, checkpoint, report Stopped.</summary>
    public void Stop() => Coordinator.Tell(new StopTraining(Guid.NewGuid().ToString("N")));

    /// <summary>The run's journaled state: asked of the coordinator while it runs, read from the journal once it ended.</summary>
    public async Task<TrainingState> FetchStatusAsync(TimeSpan timeout)
    {
        if (!Finished.IsCompleted)
            return (await Coordinator.Ask<TrainingStatus>(new FetchTrainingStatus("status"), timeout)).State;
        return await system.ActorOf(RunJournalReader.Props(RunIdentity.CoordinatorPersistenceId(settings)))
            .Ask<TrainingState>(RunJournalReader.Read.Instance, timeout);
    }

    internal static async Task<LocalRun> StartAsync(ActorSystem system, IActorRef runManager, TrainingSettings settings, Action<RunReported> report, CancellationToken ct)
    {
        var started = new TaskCompletionSource<(string?, IActorRef)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(RunFollower.Props(runManager, settings, report, started, finished), $"follow-{settings.RunName}-{Guid.NewGuid():N}"[..40]);
        var (runId, coordinator) = await started.Task.WaitAsync(ct);
        return new LocalRun(system, settings, runId, coordinator, finished.Task);
    }

    /// <summary>Sends <see cref="StartRun"/> and follows the accepted run on the EventStream; a run manager that stops
    /// (its journal is unreachable) or refuses ends the run as Failed, with the reason.</summary>
    sealed class RunFollower : ReceiveActor
    {
        readonly Dictionary<string, IActorRef> launched = [];
        readonly List<RunReported> early = [];
        string? runId;

        public RunFollower(IActorRef runManager, TrainingSettings settings, Action<RunReported> report,
            TaskCompletionSource<(string?, IActorRef)> started, TaskCompletionSource<TrainingFinished> finished)
        {
            void Fail(string message, FailureKind kind)
            {
                var f = new TrainingFinished(Outcome.Failed, 0, null, message, kind);
                report(new RunReported(runId ?? settings.RunName, f, RunRates.Unknown));
                started.TrySetResult((runId, ActorRefs.Nobody));
                finished.TrySetResult(f);
                Context.Stop(Self);
            }

            void OnReport(RunReported r)
            {
                report(r);
                if (r.Report is not TrainingFinished f) return;
                finished.TrySetResult(f);
                Context.Stop(Self);
            }

            Receive<RunLaunched>(l => launched[l.RunId] = l.Coordinator);
            Receive<RunAccepted>(a =>
            {
                runId = a.RunId;
                started.TrySetResult((runId, launched.GetValueOrDefault(a.RunId, ActorRefs.Nobody)));
                foreach (var r in early.Where(r => r.RunId == runId).ToList()) OnReport(r);
                early.Clear();
            });
            Receive<RunRejected>(r => Fail(r.Reason, FailureKind.Unexpected));
            Receive<RunReported>(r =>
            {
                if (runId is null) early.Add(r);
                else if (r.RunId == runId) OnReport(r);
            });
            Receive<RunManagerFailed>(f => Fail(f.Reason, f.Kind));

            Context.System.EventStream.Subscribe(Self, typeof(RunLaunched));
            Context.System.EventStream.Subscribe(Self, typeof(RunReported));
            Context.System.EventStream.Subscribe(Self, typeof(RunManagerFailed));
            runManager.Tell(new StartRun(settings.Stage, settings.ToJson()));
        }

        protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

        public static Props Props(IActorRef runManager, TrainingSettings settings, Action<RunReported> report,
            TaskCompletionSource<(string?, IActorRef)> started, TaskCompletionSource<TrainingFinished> finished) =>
            Akka.Actor.Props.Create(() => new RunFollower(runManager, settings, report, started, finished));
    }

    /// <summary>Replays a coordinator's journal into a <see cref="TrainingState"/> (read-only: it persists nothing),
    /// answers <see cref="Read"/> with it (commands wait for the recovery) and stops; <see cref="ReadEvents"/>: the events.</summary>
    internal sealed class RunJournalReader : ReceivePersistentActor
    {
        public sealed class Read
        {
            public static Read Instance { get; } = new();
        }

        public sealed class ReadEvents
        {
            public static ReadEvents Instance { get; } = new();
        }

        TrainingState state = TrainingState.Empty;
        readonly List<ITrainingEvent> events = [];

        public RunJournalReader(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<ITrainingEvent>(e =>
            {
                state = state.Apply(e);
                events.Add(e);
            });
            Command<Read>(_ =>
            {
                Sender.Tell(state);
                Context.Stop(Self);
            });
            Command<ReadEvents>(_ =>
            {
                Sender.Tell(events.ToList());
                Context.Stop(Self);
            });
        }

        public override string PersistenceId { get; }

        public static Props Props(string persistenceId) => Akka.Actor.Props.Create(() => new RunJournalReader(persistenceId));
    }

    /// <summary>Writes <paramref name="events"/> under <paramref name="persistenceId"/> if that journal is empty, replies
    /// with the number written (0: it was not empty) and stops.</summary>
    internal sealed class RunJournalCopier : ReceivePersistentActor
    {
        public sealed class Copy
        {
            public static Copy Instance { get; } = new();
        }

        long recovered;

        public RunJournalCopier(string persistenceId, IReadOnlyList<ITrainingEvent> events)
        {
            PersistenceId = persistenceId;
            Recover<ITrainingEvent>(_ => recovered++);
            Command<Copy>(_ =>
            {
                var sender = Sender;
                if (recovered > 0 || events.Count == 0)
                {
                    sender.Tell(0);
                    Context.Stop(Self);
                    return;
                }
                var written = 0;
                PersistAll(events, _ =>
                {
                    if (++written < events.Count) return;
                    sender.Tell(written);
                    Context.Stop(Self);
                });
            });
        }

        public override string PersistenceId { get; }

        public static Props Props(string persistenceId, IReadOnlyList<ITrainingEvent> events) =>
            Akka.Actor.Props.Create(() => new RunJournalCopier(persistenceId, events));
    }
}
