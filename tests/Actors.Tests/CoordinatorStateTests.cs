using Akka.Actor;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>The coordinator's control decisions, without an ActorSystem.</summary>
public class CoordinatorStateTests
{
    static readonly CoordinatorState Running = CoordinatorState.Initial.Began();

    [Fact]
    public void Pause_and_resume_move_a_running_run_and_leave_an_ended_one()
    {
        Assert.Equal(RunPhase.Running, Running.Phase);
        var paused = Running.Pause();
        Assert.True(paused.Paused);
        Assert.Equal("paused", paused.PhaseName);
        Assert.Equal(RunPhase.Running, paused.Resume().Phase);
        Assert.False(paused.Resume().Paused);

        var completed = Running.End(RunPhase.Completed);
        Assert.Equal(RunPhase.Completed, completed.Pause().Phase);
        Assert.Equal(RunPhase.Completed, completed.Pause().Resume().Phase);
        Assert.True(completed.Ended);
    }

    [Fact]
    public void A_stop_or_pause_before_the_run_came_up_holds_when_it_does()
    {
        Assert.Equal(RunPhase.Stopping, CoordinatorState.Initial.Stop().Began().Phase);
        Assert.Equal(RunPhase.Paused, CoordinatorState.Initial.Pause().Began().Phase);
        Assert.Equal(RunPhase.Stopping, Running.Pause().Stop().Phase);
        Assert.Equal(RunPhase.Failed, Running.End(RunPhase.Failed).Stop().Phase);   // an ended run stays ended
    }

    [Theory]
    [InlineData(1, true, false)]     // the first step is always reported
    [InlineData(2, false, true)]     // save interval 2
    [InlineData(3, true, false)]     // log interval 3
    [InlineData(6, true, true)]
    [InlineData(7, false, false)]
    public void The_commit_cadence_follows_the_log_and_save_intervals(long done, bool report, bool checkpoint)
    {
        var next = Running.AfterStep(done, 10, logInterval: 3, saveInterval: 2);
        Assert.Equal(new StepFollowUp(report, Finish: false, Stop: false, Checkpoint: checkpoint), next);
    }

    [Fact]
    public void The_last_step_finishes_even_when_a_stop_was_asked_and_a_stop_wins_over_a_save()
    {
        Assert.Equal(new StepFollowUp(true, Finish: true, Stop: false, Checkpoint: false), Running.Stop().AfterStep(10, 10, 100, 100));
        var stopping = Running with { SaveRequested = true, StopRequested = true };
        Assert.Equal(new StepFollowUp(false, Finish: false, Stop: true, Checkpoint: false), stopping.AfterStep(4, 10, 100, 2));
    }

    [Fact]
    public void Checkpoint_on_demand_is_refused_replied_taken_now_or_after_the_step_in_flight()
    {
        var latest = new CheckpointRecord("c.ckpt", "h", 4);
        Assert.IsType<SaveDecision.Refuse>(CoordinatorState.Initial.DecideSave(planned: false, false, false, false, 0, null).Decision);
        var refused = Assert.IsType<SaveDecision.Refuse>(Running.End(RunPhase.Completed).DecideSave(true, true, false, true, 10, latest).Decision);
        Assert.Equal("no checkpoint: the run is completed", refused.Error);

        Assert.Equal(latest, Assert.IsType<SaveDecision.Existing>(Running.DecideSave(true, false, false, true, 4, latest).Decision).Checkpoint);
        Assert.IsType<SaveDecision.SnapshotNow>(Running.DecideSave(true, false, false, true, 5, latest).Decision);

        var (state, decision) = Running.DecideSave(true, false, stepInFlight: true, idle: false, 4, latest);
        Assert.IsType<SaveDecision.AfterCurrentStep>(decision);                       // step 4 → 5 is in flight: not the latest
        Assert.True(state.SaveRequested);
        Assert.True(state.AfterStep(5, 10, 100, 100).Checkpoint);                    // taken after that step
        Assert.False(state.SaveTaken().AfterStep(6, 10, 100, 100).Checkpoint);
    }

    [Fact]
    public void A_reload_or_a_worker_fault_starts_a_new_generation_with_nothing_in_flight()
    {
        var s = Running.Reloading().WorkerIsReady(5).StepStarted();
        Assert.Equal(1, s.Generation);
        Assert.False(s.Idle);
        Assert.Equal(6, s.PausedAt);                                                  // the step in flight counts
        var failed = (s with { Finishing = true }).WorkerFailed();
        Assert.Equal(2, failed.Generation);
        Assert.False(failed.WorkerReady || failed.StepInFlight || failed.Finishing);
        Assert.Equal([200, 400, 800, 10_000], new[] { 1, 2, 3, 9 }.Select(n => (Running with { Restarts = n }).ReloadDelay.TotalMilliseconds));
        Assert.Equal(1, failed.Restarts);
    }

    [Fact]
    public void A_step_starts_only_when_the_worker_is_ready_idle_and_the_run_not_paused_stopped_or_finishing()
    {
        var ready = Running.Reloading().WorkerIsReady(3);
        Assert.True(ready.CanStartStep);
        Assert.False(Running.CanStartStep);                                           // no worker yet
        Assert.False(ready.StepStarted().CanStartStep);
        Assert.False(ready.Pause().CanStartStep);
        Assert.False(ready.Stop().CanStartStep);
        Assert.False(ready.Finish().CanStartStep);
        var done = ready.StepStarted().StepDone(4);
        Assert.True(done.CanStartStep);
        Assert.Equal(4, done.NextStep);
        var stopping = done.StoppingAt();
        Assert.Equal(4, stopping.StopAtStep);
        Assert.True(stopping.Finishing);
        Assert.True(ready.StepStarted().Diverged() is { Finishing: true, StepInFlight: false });
    }

    [Fact]
    public void A_save_waits_for_a_checkpoint_of_the_state_it_asked_at_and_is_answered_once()
    {
        var a = ActorRefs.Nobody;
        var s = Running.Reloading().WorkerIsReady(4).WaitForSave("r1", a).StepStarted().StepDone(5).WaitForSave("r2", a);
        Assert.Equal([4L, 5L], s.SaveWaiters.Select(w => w.MinStep));
        var (afterOld, none) = s.Saved(3);
        Assert.Empty(none);
        Assert.Equal(2, afterOld.SaveWaiters.Count);
        var (after4, first) = s.Saved(4);
        Assert.Equal(["r1"], first.Select(w => w.RequestId));
        Assert.Equal(["r2"], after4.SaveWaiters.Select(w => w.RequestId));
        var (after5, both) = s.Saved(5);
        Assert.Equal(["r2", "r1"], both.Select(w => w.RequestId));               // newest first
        Assert.Empty(after5.SaveWaiters);
        Assert.Single(s.WorkerFailed().Reloading().SaveWaiters, w => w.RequestId == "r1");  // a worker fault keeps the waiters
    }

    [Fact]
    public void A_snapshot_is_asked_of_the_worker_once_per_step_and_remembers_every_purpose()
    {
        var (s, send) = Running.RequestSnapshot(7, checkpoint: true, join: false);
        Assert.True(send);
        (s, send) = s.RequestSnapshot(7, checkpoint: false, join: true);
        Assert.False(send);
        var (taken, purpose) = s.Snapshotted(7);
        Assert.Equal(new SnapshotPurpose(Checkpoint: true, Join: true), purpose);
        Assert.Empty(taken.Snapshots);
        Assert.Null(taken.Snapshotted(7).Purpose);                                   // delivered twice: the second is dropped
        Assert.Null(s.Reloading().Snapshotted(7).Purpose);                           // a new generation forgets the old requests
        Assert.Null(s.WorkerFailed().Snapshotted(7).Purpose);
        Assert.True(s.Reloading().RequestSnapshot(7, true, false).Send);
    }

    [Fact]
    public void The_run_is_announced_once_and_the_checkpoint_stall_is_reported_once()
    {
        var loaded = Running.Reloading().Loaded("ckpt_4.pth");
        var (announced, first) = loaded.Announce();
        Assert.True(first);
        Assert.Equal("ckpt_4.pth", announced.ResumedFrom);
        Assert.False(announced.WorkerFailed().Reloading().Loaded(null).Announce().First);   // a reload is not a new run

        var stalled = Running.Stalled(TimeSpan.FromMilliseconds(30)).Stalled(TimeSpan.FromMilliseconds(12));
        Assert.Equal(TimeSpan.FromMilliseconds(42), stalled.CheckpointStall);
        Assert.Equal(TimeSpan.Zero, stalled.StallReported().CheckpointStall);
    }
}
