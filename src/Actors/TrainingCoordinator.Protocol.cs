using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>The <see cref="TrainingCoordinator"/>'s protocol: commands, queries, replies and what the listener hears.</summary>
public sealed partial class TrainingCoordinator
{
    /// <summary>Self-sent after recovery: begin a new run, resume one, or report that it is complete.</summary>
    public sealed record StartTraining
    {
        public static StartTraining Instance { get; } = new();
    }

    /// <summary>Finish the current step, checkpoint, then report <see cref="TrainingFinished"/> (Stopped).</summary>
    public sealed record StopTraining(string RequestId);

    public sealed record FetchTrainingStatus(string RequestId);
    public sealed record TrainingStatus(string RequestId, TrainingState State);

    // ---- operations (minimind ctl): pause/resume, checkpoint on demand, actor health ----
    /// <summary>Start no new step after the one in flight; the children and the model stay. Replies <see cref="TrainingPaused"/>.</summary>
    public sealed record PauseTraining(string RequestId);
    /// <summary><paramref name="Step"/>: the steps done when the run stands still (the step in flight included).</summary>
    public sealed record TrainingPaused(string RequestId, long Step, bool StepInFlight);
    /// <summary>Continue after <see cref="PauseTraining"/>. Replies <see cref="TrainingResumed"/>.</summary>
    public sealed record ResumeTraining(string RequestId);
    public sealed record TrainingResumed(string RequestId, long Step);
    /// <summary>Checkpoint after the current step (now when idle or paused). Replies <see cref="CheckpointTaken"/> once the
    /// checkpoint is written and journaled (Error set when the run cannot checkpoint, e.g. not started or finished).</summary>
    public sealed record SaveCheckpoint(string RequestId);
    public sealed record CheckpointTaken(string RequestId, string? File, long Step, string? Error);
    public sealed record FetchActorHealth(string RequestId);
    /// <summary><paramref name="Phase"/>: starting, running, paused, stopping, completed, stopped or failed.</summary>
    public sealed record ActorHealthReport(string RequestId, string Path, string Phase, long Step, long TotalSteps, HealthBook Health);

    // ---- to the listener ----
    public sealed record TrainingBegan(bool Resumed, long FromStep, long TotalSteps, long SampleCount, long ParameterCount, string? Checkpoint);
    public sealed record TrainingProgress(long Step, long TotalSteps, int Epoch, double Loss, double Lr, double GradNorm, long StepTokens, TimeSpan StepTime, TimeSpan CheckpointStall);
    public sealed record TrainingNotice(string Text);
    public enum Outcome { Completed, AlreadyCompleted, Stopped, Failed }
    public sealed record TrainingFinished(Outcome Outcome, long Step, string? OutputFile, string Message);

    // ---- cluster membership (from the RunManager; issue 5) ----
    /// <summary>A worker node's <see cref="ClusterWorker"/> is present: make it a replica (snapshot at the next step
    /// boundary), then give it micro-batches.</summary>
    public sealed record WorkerJoined(IActorRef Worker, string Node, string Device);
    /// <summary>A worker node left, was downed or became unreachable: its unfinished micro-batches go to the others.</summary>
    public sealed record WorkerLeft(IActorRef Worker, string Reason);

    // ---- to itself ----
    sealed record ChildRestarted(string Name);
    sealed record ReloadWorker;
}
