using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>The <see cref="TrainingCoordinator"/>'s failures: supervision of its children, and what the listener hears
/// when the coordinator itself fails or its journal cannot be read or written.</summary>
public sealed partial class TrainingCoordinator
{
    /// <summary>Supervision: a worker fault (device error, OOM, injected) is retried: restart, reload the newest
    /// checkpoint and redo the steps since, at most 3 times a minute (then the worker stops and the run fails).
    /// Bad data or a missing/corrupt file cannot be fixed by retrying: escalate. Each restart is counted per child
    /// for <c>actor health</c>.</summary>
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
        listener.Tell(new TrainingFinished(Outcome.Failed, state.CommittedStep, null, $"{reason.GetType().Name}: {reason.Message}"));
        base.PreRestart(reason, message);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        listener.Tell(new TrainingFinished(Outcome.Failed, 0, null, $"journal unavailable, nothing was changed: {Root(reason).Message}"));
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        listener.Tell(new TrainingFinished(Outcome.Failed, state.CommittedStep, null,
            $"journal write failed ({@event.GetType().Name}); the newest checkpoint is intact, re-run to resume: {Root(cause).Message}"));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        listener.Tell(new TrainingFinished(Outcome.Failed, state.CommittedStep, null, $"journal rejected {@event.GetType().Name}: {cause.Message}"));
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    static Exception Root(Exception e) => e.InnerException is null ? e : Root(e.InnerException);
}
