using Akka.Actor;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Model.Evaluation;
using Xunit;
using static MiniMind.Actors.CheckpointWriter;
using static MiniMind.Actors.CoordinatorEffect;
using static MiniMind.Actors.DataLoader;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors.Tests;

/// <summary>The coordinator's decisions (step pipeline, commit cadence, checkpoints, pause/resume/stop, worker faults,
/// replicas), without an ActorSystem: each message gives the next state and the effects the actor would execute.</summary>
public class CoordinatorStateTests
{
    /// <summary>An actor reference with a path and nothing behind it.</summary>
    sealed class Ref(string name) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(new Address("akka", "test")) / "user" / name;
        public override IActorRefProvider Provider => throw new NotSupportedException();
    }

    internal static readonly IActorRef Self = new Ref("coordinator"), Listener = new Ref("listener"), Loader = new Ref("data-loader"),
        Worker = new Ref("worker-0"), Writer = new Ref("checkpoint-writer"), Aggregator = new Ref("gradient-aggregator"),
        Client = new Ref("ctl"), NodeA = new Ref("node-a"), NodeB = new Ref("node-b"), NodeC = new Ref("node-c");

    static readonly string Config = MiniMind.Model.MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson();

    /// <summary>64 samples, batch 2 × accumulation 2: 16 steps an epoch, 10 steps in all.</summary>
    internal static TrainingSettings Settings(int saveInterval = 100, int logInterval = 1) => new()
    {
        ConfigJson = Config, RunDir = Path.Combine(Path.GetTempPath(), "minimind-state-test"), BatchSize = 2, AccumulationSteps = 2, MaxSteps = 10,
        SaveInterval = saveInterval, LogInterval = logInterval,
    };

    static readonly Crew Children = new Crew(Self, Listener, LocalCompute: true) { Loader = Loader, Worker = Worker, Writer = Writer, Aggregator = Aggregator };

    static CoordinatorState Fresh(TrainingSettings? s = null) => new("run", s ?? Settings(), new Crew(Self, Listener, true));

    /// <summary>Begun, worker-0 loaded at <paramref name="step"/> and idle; the loader was asked for the next two steps.</summary>
    internal static CoordinatorState Ready(long step = 0, TrainingSettings? s = null, bool localCompute = true, IReadOnlyList<EvalSample>? heldOut = null)
    {
        var settings = s ?? Settings();
        var begun = Fresh(settings).Begin(TrainingPlan.For(64, settings), 64, Children with { LocalCompute = localCompute }, heldOut);
        var loading = begun.State.Persisted(Assert.IsType<Persist>(Assert.Single(begun.Effects)).Event, null).State;
        return loading.LatestLoaded(new LatestLoaded(loading.Generation, null, null, [])).State
                      .WorkerReady(new WorkerReady(loading.Generation, step, 100)).State;
    }

    internal static StepBatches Batches(long step) =>
        new(step, [.. Enumerable.Range(0, 2).Select(_ => new MicroBatch(2, 3, new int[6], new int[6], new float[6], new long[2]))]);

    internal static StepRan Ran(CoordinatorState s, double loss = 2.5) => new(s.Generation, s.NextStep, loss, 1.0, 12, TimeSpan.FromMilliseconds(5));

    /// <summary>Ready at <paramref name="step"/> with that step's batches delivered: the step is in flight.</summary>
    static CoordinatorState Stepping(long step = 0, TrainingSettings? s = null) => Ready(step, s).Received(Batches(step)).State;

    internal static IReadOnlyList<T> Told<T>(Decision d, IActorRef to) =>
        [.. d.Effects.OfType<Tell>().Where(t => t.To.Equals(to)).Select(t => t.Message).OfType<T>()];

    static Decision Journaled(Decision d)
    {
        var p = Assert.Single(d.Effects.OfType<Persist>());
        return d.State.Persisted(p.Event, p.Cause);
    }

    [Fact]
    public void A_run_journals_its_start_once_loads_worker_0_and_keeps_the_loader_one_step_ahead()
    {
        var begun = Fresh().Begin(TrainingPlan.For(64, Settings()), 64, Children);
        Assert.Equal(RunPhase.Running, begun.State.Phase);
        Assert.Equal(10, Assert.IsType<RunStarted>(Assert.IsType<Persist>(Assert.Single(begun.Effects)).Event).TotalSteps);

        var reload = Journaled(begun);
        Assert.Equal(1, Assert.Single(Told<LoadLatest>(reload, Writer)).Generation);
        var resumed = (Fresh() with { Journal = reload.State.Journal }).Begin(TrainingPlan.For(64, Settings()), 64, Children);
        Assert.Single(Told<LoadLatest>(resumed, Writer));                                   // a resumed run is not journaled again

        var loaded = reload.State.LatestLoaded(new LatestLoaded(1, null, null, []));
        Assert.Single(Told<Initialize>(loaded, Worker), i => i.Generation == 1 && i.From is null);
        Assert.Empty(loaded.State.LatestLoaded(new LatestLoaded(0, null, null, [])).Effects);  // an older generation's reply

        var ready = loaded.State.WorkerReady(new WorkerReady(1, 0, 100));
        Assert.Equal(new TrainingBegan(false, 0, 10, 64, 100, null), Assert.Single(Told<TrainingBegan>(ready, Listener)));
        Assert.Equal([0L, 1L], Told<FetchStepBatches>(ready, Loader).Select(f => f.Step));
        Assert.Equal(Pipeline.Idle, ready.State.Pipeline);
    }

    [Fact]
    public void A_step_starts_once_its_batches_are_there_and_is_committed_reported_and_followed_by_the_next()
    {
        var started = Ready().Received(Batches(0));
        var begin = Assert.Single(Told<GradientAggregator.BeginStep>(started, Aggregator));
        Assert.Equal((0L, 2, 100), (begin.Step, begin.MicroCount, begin.Length));
        Assert.Equal([0, 1], Told<ComputeGradients>(started, Worker).Select(c => c.Micro));
        Assert.Equal(Pipeline.Stepping, started.State.Pipeline);
        Assert.Equal(1, started.State.PausedAt);                                             // the step in flight counts
        Assert.DoesNotContain(started.State.Received(Batches(1)).Effects.OfType<Tell>(), t => t.To.Equals(Aggregator));   // one step at a time

        var s = started.State;
        Assert.Empty(s.StepRan(Ran(s) with { Generation = s.Generation - 1 }).Effects);       // stale
        Assert.Empty(s.StepRan(Ran(s) with { Step = 3 }).Effects);
        var ran = s.StepRan(Ran(s));
        var commit = Assert.IsType<Persist>(ran.Effects[0]);
        Assert.True(commit.Async);
        var c = Assert.IsType<StepCommitted>(commit.Event);
        Assert.Equal((1L, 2.5, 12L), (c.Step, c.Loss, c.Tokens));
        Assert.Equal(1, Assert.Single(Told<TrainingProgress>(ran, Listener)).Step);
        Assert.Equal([2L], Told<FetchStepBatches>(ran, Loader).Select(f => f.Step));
        Assert.Equal((1L, Pipeline.Idle), (ran.State.NextStep, ran.State.Pipeline));
        Assert.Equal(1, Journaled(ran).State.Journal.CommittedStep);
    }

    [Theory]
    [InlineData(1, true, false)]     // the first step is always reported
    [InlineData(2, false, true)]     // save interval 2
    [InlineData(3, true, false)]     // log interval 3
    [InlineData(6, true, true)]
    [InlineData(7, false, false)]
    public void The_commit_cadence_follows_the_log_and_save_intervals(long done, bool report, bool checkpoint)
    {
        Assert.Equal(new StepFollowUp(report, Finish: false, Stop: false, Checkpoint: checkpoint), Ready().AfterStep(done, 10, logInterval: 3, saveInterval: 2));
        var s = Stepping(done - 1, Settings(saveInterval: 2, logInterval: 3));
        var ran = s.StepRan(Ran(s));
        Assert.Equal(report, Told<TrainingProgress>(ran, Listener).Count == 1);
        Assert.Equal(checkpoint, Told<Snapshot>(ran, Worker).Any(x => x.StepsDone == done));
    }

    [Fact]
    public void The_last_step_takes_the_final_checkpoint_then_exports_and_completes()
    {
        var s = Stepping(9);
        var ran = s.StepRan(Ran(s));
        Assert.Equal(10, Assert.Single(Told<Snapshot>(ran, Worker)).StepsDone);
        Assert.Equal(Pipeline.Finishing, ran.State.Pipeline);
        Assert.Empty(Told<FetchStepBatches>(ran, Loader));

        var saved = Journaled(ran.State.CheckpointWritten(new CheckpointWritten(s.Generation, "step_10.ckpt", "h10", 10, TimeSpan.Zero)));
        Assert.Equal(10, saved.State.Journal.LatestCheckpoint!.Step);
        var export = Assert.Single(Told<ExportWeights>(saved, Worker));
        Assert.Equal(Path.Combine(Settings().RunDir, Settings().OutputFileName), export.Path);

        var exported = saved.State.Exported(new WeightsExported(s.Generation, export.Path, "sha"));
        Assert.Equal(Settings().OutputFileName, Assert.IsType<RunCompleted>(Assert.Single(exported.Effects.OfType<Persist>()).Event).OutputFile);
        var completed = Journaled(exported);
        Assert.Equal(RunPhase.Completed, completed.State.Phase);
        Assert.Equal(new TrainingFinished(Outcome.Completed, 10, export.Path, $"done: 10 steps, wrote {export.Path}"), Assert.Single(Told<TrainingFinished>(completed, Listener)));
    }

    [Fact]
    public void Pause_holds_the_next_step_and_resume_starts_it()
    {
        var paused = Ready().Pause("p", Client);
        Assert.Equal(RunPhase.Paused, paused.State.Phase);
        Assert.Equal(new TrainingPaused("p", 0, false), Assert.Single(Told<TrainingPaused>(paused, Client)));
        var waiting = paused.State.Received(Batches(0));
        Assert.Empty(Told<GradientAggregator.BeginStep>(waiting, Aggregator));
        Assert.Equal(RunPhase.Paused, waiting.State.Pause("p2", Client).State.Phase);

        var resumed = waiting.State.Resume("r", Client);
        Assert.Equal(RunPhase.Running, resumed.State.Phase);
        Assert.Equal(new TrainingResumed("r", 0), Assert.Single(Told<TrainingResumed>(resumed, Client)));
        Assert.Single(Told<GradientAggregator.BeginStep>(resumed, Aggregator));

        var failed = Ready().Fail("x", FailureKind.Unexpected).State;
        Assert.Equal(RunPhase.Failed, failed.Pause("p", Client).State.Phase);                // an ended run stays ended
        Assert.Equal(RunPhase.Failed, failed.Resume("r", Client).State.Phase);
        Assert.Single(Told<TrainingPaused>(failed.Pause("p", Client), Client));              // and still answers
    }

    [Fact]
    public void A_stop_finishes_the_step_in_flight_checkpoints_it_and_ends_stopped()
    {
        var stopping = Stepping(3).Stop();
        Assert.Equal(RunPhase.Stopping, stopping.State.Phase);
        Assert.Empty(stopping.Effects);                                                      // the step in flight finishes first
        Assert.Empty(stopping.State.Stop().Effects);

        var s = stopping.State;
        var ran = s.StepRan(Ran(s));
        Assert.Equal(4, Assert.Single(Told<Snapshot>(ran, Worker)).StepsDone);
        Assert.Equal((Pipeline.Finishing, 4L), (ran.State.Pipeline, ran.State.StopAtStep));
        Assert.Empty(Told<FetchStepBatches>(ran, Loader));

        var stopped = Journaled(ran.State.CheckpointWritten(new CheckpointWritten(s.Generation, "step_4.ckpt", "h4", 4, TimeSpan.Zero)));
        Assert.Equal(RunPhase.Stopped, stopped.State.Phase);
        Assert.Equal(new TrainingFinished(Outcome.Stopped, 4, null, "stopped at step 4; checkpoint step_4.ckpt"), Assert.Single(Told<TrainingFinished>(stopped, Listener)));
        Assert.Empty(stopped.State.Stop().Effects);                                          // an ended run stays ended
    }

    [Fact]
    public void A_stop_at_a_step_the_newest_checkpoint_holds_ends_at_once()
    {
        var ready = Ready(4) with { Journal = Ready().Journal.Apply(new CheckpointSaved("step_4.ckpt", "h", 4)) };
        var stopped = ready.Pause("p", Client).State.Stop();
        Assert.Equal(RunPhase.Stopped, stopped.State.Phase);
        Assert.Equal("stopped at step 4; checkpoint step_4.ckpt", Assert.Single(Told<TrainingFinished>(stopped, Listener)).Message);
        Assert.Empty(Told<Snapshot>(stopped, Worker));
    }

    [Fact]
    public void Checkpoint_on_demand_is_refused_replied_taken_now_or_after_the_step_in_flight()
    {
        Assert.Equal("no checkpoint: the run is starting", Assert.Single(Told<CheckpointTaken>(Fresh().Save("s", Client), Client)).Error);
        Assert.Equal("no checkpoint: the run is failed", Assert.Single(Told<CheckpointTaken>(Ready().Fail("x", FailureKind.Unexpected).State.Save("s", Client), Client)).Error);

        var atFour = Ready(4) with { Journal = Ready().Journal.Apply(new CheckpointSaved("step_4.ckpt", "h", 4)) };
        Assert.Equal(new CheckpointTaken("s", "step_4.ckpt", 4, null), Assert.Single(Told<CheckpointTaken>(atFour.Save("s", Client), Client)));

        var now = Ready(5).Save("s", Client);                                                // idle: snapshot now
        Assert.Equal(5, Assert.Single(Told<Snapshot>(now, Worker)).StepsDone);
        Assert.Empty(Told<CheckpointTaken>(now, Client));
        var answered = Journaled(now.State.CheckpointWritten(new CheckpointWritten(now.State.Generation, "step_5.ckpt", "h5", 5, TimeSpan.Zero)));
        Assert.Equal(new CheckpointTaken("s", "step_5.ckpt", 5, null), Assert.Single(Told<CheckpointTaken>(answered, Client)));
        Assert.Empty(answered.State.Snapshots.Waiters);

        var later = Stepping(5).Save("s", Client);                                           // step 5 → 6 in flight: after it
        Assert.True(later.State.Snapshots.CheckpointAfterStep);
        Assert.Empty(Told<Snapshot>(later, Worker));
        var ran = later.State.StepRan(Ran(later.State));
        Assert.Equal(6, Assert.Single(Told<Snapshot>(ran, Worker)).StepsDone);
        Assert.False(ran.State.Snapshots.CheckpointAfterStep);
        Assert.Single(ran.State.Snapshots.Waiters, w => w.MinStep == 5);
    }

    [Fact]
    public void Old_checkpoints_are_pruned_once_journaled_and_then_deleted()
    {
        var s = Ready(4) with { Journal = new[] { 1L, 2L, 3L }.Aggregate(Ready().Journal, (j, n) => j.Apply(new CheckpointSaved($"step_{n}.ckpt", "h", n))) };
        var saved = Journaled(s.CheckpointWritten(new CheckpointWritten(s.Generation, "step_4.ckpt", "h", 4, TimeSpan.Zero)));
        var pruned = Assert.Single(saved.Effects.OfType<PersistAll>()).Events.Cast<CheckpointDiscarded>();
        Assert.Equal(["step_1.ckpt"], pruned.Select(d => d.File));
        var delete = Assert.IsType<DeleteCheckpoints>(Assert.IsType<Tell>(Assert.Single(saved.Effects.OfType<AfterJournal>()).Then).Message);
        Assert.Equal(["step_1.ckpt"], delete.Files);
    }

    [Fact]
    public void A_worker_fault_starts_a_new_generation_drops_old_replies_and_reloads_after_a_backoff()
    {
        var s = Stepping(3);
        var failed = s.WorkerRestarted(new WorkerRestarted("boom"));
        Assert.Equal((s.Generation + 1, Pipeline.Loading, 1), (failed.State.Generation, failed.State.Pipeline, failed.State.Restarts));
        var notice = Assert.Single(Told<WorkerFailed>(failed, Listener));                    // typed: the alerts read its fields
        Assert.Equal(new WorkerFailed("boom", 1, TimeSpan.FromMilliseconds(200)), notice);
        Assert.Equal("warning: worker failed (boom); restart 1, reloading the newest checkpoint in 200 ms", notice.Text);
        Assert.Equal(TimeSpan.FromMilliseconds(200), Assert.Single(failed.Effects.OfType<ReloadAfter>()).Delay);
        Assert.Empty(failed.State.StepRan(Ran(s)).Effects);                                  // the failed incarnation's step
        Assert.Equal(TimeSpan.FromMilliseconds(400), Assert.Single(failed.State.WorkerRestarted(new WorkerRestarted("again")).Effects.OfType<ReloadAfter>()).Delay);
        Assert.Equal([200, 400, 800, 10_000], new[] { 1, 2, 3, 9 }.Select(n => (s with { Restarts = n }).ReloadDelay.TotalMilliseconds));

        var reload = failed.State.Reload();
        Assert.Equal(s.Generation + 2, Assert.Single(Told<LoadLatest>(reload, Writer)).Generation);
        var again = reload.State.WorkerReady(new WorkerReady(reload.State.Generation, 2, 100));
        Assert.Empty(Told<TrainingBegan>(again, Listener));                                  // a reload is not a new run
        Assert.Contains(Told<TrainingNotice>(again, Listener), n => n.Text == "worker restarted; redoing from step 2");
    }

    [Fact]
    public void A_diverged_step_fails_the_run_and_keeps_nothing_of_it()
    {
        var s = Stepping(3);
        var diverged = s.StepRan(Ran(s, loss: double.NaN));
        Assert.Equal(RunPhase.Failed, diverged.State.Phase);
        Assert.Empty(diverged.Effects.OfType<Persist>());
        var finished = Assert.Single(Told<TrainingFinished>(diverged, Listener));
        Assert.Contains("the loss is NaN (diverged", finished.Message, StringComparison.Ordinal);
        Assert.Equal(FailureKind.Diverged, finished.Failure);
        Assert.Equal(new Divergence(4, "the loss is NaN"), finished.Diverged);   // typed: the alert reads these, not the message
    }

    [Fact]
    public void A_worker_joins_at_the_next_step_boundary_through_one_snapshot()
    {
        var s = Stepping(3);
        var joined = s.WorkerJoined(new WorkerJoined(NodeA, "node-a", "cpu"));
        Assert.Empty(Told<Snapshot>(joined, Worker));                                        // not during a step
        Assert.Empty(joined.State.WorkerJoined(new WorkerJoined(NodeA, "node-a", "cpu")).Effects);  // known already

        var ran = joined.State.StepRan(Ran(s));
        Assert.Equal(4, Assert.Single(Told<Snapshot>(ran, Worker)).StepsDone);
        var snapshot = new TrainingCheckpoint(4, [1], [2], [3]);
        var fanOut = ran.State.Snapshotted(new Snapshotted(s.Generation, snapshot, TimeSpan.Zero));
        Assert.Equal([NodeA], Assert.Single(fanOut.Effects.OfType<FanOut>()).Message.Joiners);
        Assert.Empty(Told<WriteCheckpoint>(fanOut, Writer));                                  // a join snapshot is not a checkpoint
        Assert.Empty(fanOut.State.Snapshotted(new Snapshotted(s.Generation, snapshot, TimeSpan.Zero)).Effects);   // delivered twice

        var ready = fanOut.State.ReplicaReady(NodeA, new ReplicaReady(s.Generation, 4)).State.Received(Batches(4));
        Assert.Equal([0], Told<ComputeGradients>(ready, Worker).Select(c => c.Micro));       // worker-0 and node-a share the step
        var remote = Assert.Single(ready.Effects.OfType<Tell>(), t => t.To.Equals(NodeA));
        Assert.Equal(Aggregator, remote.Sender);
        Assert.Equal(1, Assert.IsType<RemoteCompute>(remote.Message).Micro);
    }

    [Fact]
    public void A_worker_lost_mid_step_leaves_its_micro_batches_to_the_others()
    {
        var s = Ready(3, localCompute: false).WorkerJoined(new WorkerJoined(NodeA, "node-a", "cpu")).State;
        s = s.Snapshotted(new Snapshotted(s.Generation, new TrainingCheckpoint(3, [], [], []), TimeSpan.Zero)).State;
        var stepping = s.ReplicaReady(NodeA, new ReplicaReady(s.Generation, 3)).State.Received(Batches(3));
        Assert.Empty(Told<ComputeGradients>(stepping, Worker));                               // only the node computes
        Assert.Equal(2, stepping.Effects.OfType<Tell>().Count(t => t.To.Equals(NodeA)));

        var left = stepping.State.WorkerLeft(new WorkerLeft(NodeA, "unreachable"));
        Assert.Equal([0, 1], Told<ComputeGradients>(left, Worker).Select(c => c.Micro));      // worker-0 as the last resort
        Assert.Contains(Told<TrainingNotice>(left, Listener), n => n.Text == "reassigned micro-batches 0,1 of step 3 from node-a");
        Assert.Empty(left.State.WorkerLeft(new WorkerLeft(NodeA, "again")).Effects);
        var next = left.State.StepRan(Ran(left.State)).State.Received(Batches(4));
        Assert.Empty(Told<GradientAggregator.BeginStep>(next, Aggregator));                   // the next step waits for a node
    }
    /// <summary>The chaos suite's hang: node-b joined during step 16, got the snapshot of step 17, but step 17 had already
    /// started and its reduced gradient (aggregator, bulk channel) reached node-b before JoinRun (replica joiner), whose
    /// reset dropped it: node-b waited for step 17's gradient forever while the run waited for its micro-batch of step 19.
    /// A step now starts only once the replicas joining at its boundary are ready (6 and 7 here stand for 16 and 17).</summary>
    [Fact]
    public void A_step_waits_for_the_replicas_joining_at_its_boundary()
    {
        var s = Ready(6, localCompute: false).WorkerJoined(new WorkerJoined(NodeA, "node-a", "cpu")).State;
        s = s.Snapshotted(new Snapshotted(s.Generation, new TrainingCheckpoint(6, [], [], []), TimeSpan.Zero)).State;
        s = s.ReplicaReady(NodeA, new ReplicaReady(s.Generation, 6)).State.Received(Batches(6)).State;
        Assert.Equal(Pipeline.Stepping, s.Pipeline);
        s = s.WorkerJoined(new WorkerJoined(NodeB, "node-b", "cpu")).State;                 // during step 6

        var ran = s.StepRan(Ran(s));
        Assert.Equal(7, Assert.Single(Told<Snapshot>(ran, Worker)).StepsDone);               // node-b joins at 7
        var delivered = ran.State.Received(Batches(7));
        Assert.Empty(Told<GradientAggregator.BeginStep>(delivered, Aggregator));              // not before node-b is built
        Assert.Empty(Told<RemoteCompute>(delivered, NodeA));
        Assert.Equal(Pipeline.Idle, delivered.State.Pipeline);

        var late = delivered.State.WorkerJoined(new WorkerJoined(NodeC, "node-c", "cpu"));  // comes while node-b joins
        Assert.Empty(Told<Snapshot>(late, Worker));
        var fanOut = late.State.Snapshotted(new Snapshotted(s.Generation, new TrainingCheckpoint(7, [], [], []), TimeSpan.Zero));
        Assert.Equal([NodeB], Assert.Single(fanOut.Effects.OfType<FanOut>()).Message.Joiners);

        var bReady = fanOut.State.ReplicaReady(NodeB, new ReplicaReady(s.Generation, 7));
        Assert.Empty(Told<GradientAggregator.BeginStep>(bReady, Aggregator));                 // node-c joins at 7 now
        Assert.Equal(7, Assert.Single(Told<Snapshot>(bReady, Worker)).StepsDone);
        var cFanOut = bReady.State.Snapshotted(new Snapshotted(s.Generation, new TrainingCheckpoint(7, [], [], []), TimeSpan.Zero));
        Assert.Equal([NodeC], Assert.Single(cFanOut.Effects.OfType<FanOut>()).Message.Joiners);

        var started = cFanOut.State.ReplicaReady(NodeC, new ReplicaReady(s.Generation, 7));
        var begin = Assert.Single(Told<GradientAggregator.BeginStep>(started, Aggregator));
        Assert.Equal(7, begin.Step);
        Assert.Equal(new HashSet<IActorRef> { NodeA, NodeB, NodeC }, begin.Replicas!.ToHashSet());
        Assert.Equal(2, started.Effects.OfType<Tell>().Count(t => t.Message is RemoteCompute));
    }

    [Fact]
    public void A_replica_that_leaves_while_joining_no_longer_holds_the_step_back()
    {
        var s = Ready(6, localCompute: true).Received(Batches(6)).State;
        s = s.WorkerJoined(new WorkerJoined(NodeB, "node-b", "cpu")).State;
        var waiting = s.StepRan(Ran(s)).State.Received(Batches(7));
        Assert.Empty(Told<GradientAggregator.BeginStep>(waiting, Aggregator));

        var left = waiting.State.WorkerLeft(new WorkerLeft(NodeB, "unreachable"));
        Assert.Equal(7, Assert.Single(Told<GradientAggregator.BeginStep>(left, Aggregator)).Step);
        Assert.Equal([0, 1], Told<ComputeGradients>(left, Worker).Select(c => c.Micro));
    }
}
