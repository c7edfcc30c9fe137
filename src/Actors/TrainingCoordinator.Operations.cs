using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>The <see cref="TrainingCoordinator"/>'s operations surface (<c>minimind ctl</c>): status, actor health,
/// pause/resume and checkpoint on demand, answered in every phase; <see cref="CoordinatorState"/> decides.</summary>
public sealed partial class TrainingCoordinator
{
    /// <summary>What every phase answers: status, health and the ops commands.</summary>
    void Operations()
    {
        Command<FetchTrainingStatus>(f => Sender.Tell(new TrainingStatus(f.RequestId, state)));
        Command<PauseTraining>(OnPause);
        Command<ResumeTraining>(OnResume);
        Command<SaveCheckpoint>(OnSaveCheckpoint);
        Command<FetchActorHealth>(f => Sender.Tell(new ActorHealthReport(f.RequestId, Self.Path.ToStringWithoutAddress(), control.PhaseName, control.NextStep, plan?.TotalSteps ?? state.TotalSteps, health)));
        Command<ChildRestarted>(c => health = health.Restarted(c.Name));
    }

    void OnPause(PauseTraining msg)
    {
        control = control.Pause();
        Sender.Tell(new TrainingPaused(msg.RequestId, control.PausedAt, control.StepInFlight));
    }

    void OnResume(ResumeTraining msg)
    {
        control = control.Resume();
        Sender.Tell(new TrainingResumed(msg.RequestId, control.NextStep));
        if (!control.Ended) Pump();
    }

    void OnSaveCheckpoint(SaveCheckpoint msg)
    {
        var (next, decision) = control.DecideSave(control.Begun && plan is not null, state.Completed, control.StepInFlight, control.Idle,
                                                  control.NextStep, state.LatestCheckpoint);
        control = next;
        switch (decision)
        {
            case SaveDecision.Refuse r:
                Sender.Tell(new CheckpointTaken(msg.RequestId, null, state.CommittedStep, r.Error));
                return;
            case SaveDecision.Existing e:
                Sender.Tell(new CheckpointTaken(msg.RequestId, e.Checkpoint.File, e.Checkpoint.Step, null));
                return;
        }
        control = control.WaitForSave(msg.RequestId, Sender);
        if (decision is SaveDecision.SnapshotNow) RequestSnapshot(control.NextStep, checkpoint: true, join: false);
    }

    void ReplySaved(string file, long step)
    {
        (control, var answered) = control.Saved(step);
        foreach (var w in answered) w.ReplyTo.Tell(new CheckpointTaken(w.RequestId, file, step, null));
    }
}
