using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Akka.TestKit;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Model;
using MiniMind.Model.Data;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors.Tests;

/// <summary>The coordinator's behaviours with TestKit probes and the persistence TestKit's journal: a tiny model on a
/// synthetic in-memory dataset, each test a few seconds, no full training run. The listener is a probe; remote workers
/// are probes speaking the cluster protocol.</summary>
public sealed class CoordinatorTests : Akka.TestKit.Xunit.TestKit, IDisposable
{
    const string Config = """
        akka.loglevel = WARNING
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.test"
        akka.persistence.snapshot-store.test {
          class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """;

    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    readonly string dir = Directory.CreateTempSubdirectory("minimind-coordinator-").FullName;
    readonly TestProbe listener;

    public CoordinatorTests(ITestOutputHelper output) : base(Config, output: output) => listener = CreateTestProbe("listener");

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(dir, true);
    }

    /// <summary>A random-token dataset: 64 samples of 16 positions, every target in the loss.</summary>
    sealed class SyntheticDataset : ITokenizedDataset
    {
        public long Count => 64;
        public int SeqLen => 16;
        public TrainingSample Get(long index)
        {
            var random = new Random((int)index);
            var ids = Enumerable.Range(0, SeqLen + 1).Select(_ => random.Next(1, 200)).ToArray();
            return new TrainingSample(ids[..^1], ids[1..], [.. Enumerable.Repeat(1f, SeqLen)]);
        }
    }

    TrainingSettings Settings(long steps = 1000, int saveInterval = 1000) => new()
    {
        Stage = "pretrain", ConfigJson = MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson(), RunDir = dir,
        BatchSize = 2, AccumulationSteps = 2, MaxSeqLen = 17, MaxSteps = steps, SaveInterval = saveInterval, LogInterval = 1,
        Threads = 1, Deterministic = true,
    };

    IActorRef Start(TrainingSettings settings, bool localCompute = true, FaultPlan? faults = null) =>
        Sys.ActorOf(TrainingCoordinator.Props("coordinator-test", settings, _ => new SyntheticDataset(), listener, faults ?? FaultPlan.None, default, localCompute), "coordinator");

    T Next<T>(TestProbe probe, Func<T, bool>? when = null) =>
        (T)probe.FishForMessage(m => m is T t && (when?.Invoke(t) ?? true), Patience);

    [Fact]
    public async Task Coordinator_should_pause_take_a_checkpoint_on_demand_resume_and_stop_with_a_checkpoint()
    {
        var coordinator = Start(Settings());
        Assert.False(Next<TrainingBegan>(listener).Resumed);
        Next<TrainingProgress>(listener, p => p.Step >= 2);

        var paused = (await coordinator.Ask<TrainingPaused>(new PauseTraining("p1"), Patience));
        Assert.Equal("p1", paused.RequestId);
        var last = paused.Step;
        // The step in flight (if any) finishes; then nothing moves.
        listener.FishForMessage(m => m is TrainingProgress p && p.Step == last || !paused.StepInFlight, Patience);
        listener.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => m);
        listener.ExpectNoMsg(TimeSpan.FromMilliseconds(700));
        Assert.Equal("paused", (await coordinator.Ask<ActorHealthReport>(new FetchActorHealth("h"), Patience)).Phase);

        var saved = (await coordinator.Ask<CheckpointTaken>(new SaveCheckpoint("s1"), Patience));
        Assert.Null(saved.Error);
        Assert.Equal(last, saved.Step);
        Assert.True(File.Exists(Path.Combine(Settings().CheckpointDir, saved.File!)) || File.Exists(saved.File!), saved.File);
        var again = (await coordinator.Ask<CheckpointTaken>(new SaveCheckpoint("s2"), Patience));     // nothing new: the same one
        Assert.Equal((saved.File, saved.Step), (again.File, again.Step));
        var status = (await coordinator.Ask<TrainingStatus>(new FetchTrainingStatus("st"), Patience));
        Assert.Equal(last, status.State.LatestCheckpoint!.Step);

        Assert.Equal(last, (await coordinator.Ask<TrainingResumed>(new ResumeTraining("r1"), Patience)).Step);
        Next<TrainingProgress>(listener, p => p.Step > last + 1);

        coordinator.Tell(new StopTraining("x"));
        var finished = Next<TrainingFinished>(listener);
        Assert.Equal(Outcome.Stopped, finished.Outcome);
        var state = (await coordinator.Ask<TrainingStatus>(new FetchTrainingStatus("st2"), Patience)).State;
        Assert.Equal(finished.Step, state.LatestCheckpoint!.Step);                                     // stop → checkpoint
        Assert.Equal("stopped", (await coordinator.Ask<ActorHealthReport>(new FetchActorHealth("h2"), Patience)).Phase);
    }

    [Fact]
    public async Task Coordinator_should_stop_with_a_checkpoint_when_asked_before_the_run_is_up()
    {
        var coordinator = Start(Settings());
        coordinator.Tell(new StopTraining("early"));                                                // recovering or starting: held until it is up
        var finished = Next<TrainingFinished>(listener);
        Assert.Equal(Outcome.Stopped, finished.Outcome);
        var state = (await coordinator.Ask<TrainingStatus>(new FetchTrainingStatus("st"), Patience)).State;
        Assert.Equal(finished.Step, state.LatestCheckpoint!.Step);
        Assert.True(finished.Step <= 1, $"stopped at step {finished.Step}");                       // at most the step in flight ran
    }

    [Fact]
    public void Coordinator_should_resume_from_the_last_checkpoint_after_a_worker_crash()
    {
        Start(Settings(saveInterval: 2), faults: new FaultPlan(5));                                 // worker-0 throws at step 5
        Next<TrainingProgress>(listener, p => p.Step == 4);
        Next<TrainingNotice>(listener, n => n.Text.StartsWith("warning: worker failed", StringComparison.Ordinal));
        var redo = Next<TrainingNotice>(listener, n => n.Text.StartsWith("worker restarted; redoing from step ", StringComparison.Ordinal));
        Assert.Contains(redo.Text[^1], "24");                                                       // from a checkpoint (every 2 steps)
        Next<TrainingProgress>(listener, p => p.Step == 6);
    }

    [Fact]
    public async Task Coordinator_should_refuse_a_checkpoint_on_demand_once_the_run_is_completed()
    {
        var coordinator = Start(Settings(steps: 3));
        var finished = Next<TrainingFinished>(listener);
        Assert.Equal(Outcome.Completed, finished.Outcome);
        var taken = (await coordinator.Ask<CheckpointTaken>(new SaveCheckpoint("late"), Patience));
        Assert.Equal("no checkpoint: the run is completed", taken.Error);
        coordinator.Tell(new StopTraining("late"));                                                  // an ended run stays ended
        Assert.DoesNotContain(listener.ReceiveWhile(TimeSpan.FromMilliseconds(500), m => m), m => m is TrainingFinished);
        Assert.Equal("completed", (await coordinator.Ask<ActorHealthReport>(new FetchActorHealth("h"), Patience)).Phase);
    }

    [Fact]
    public async Task Coordinator_should_report_a_failed_run_when_the_journal_cannot_be_written()
    {
        var coordinator = Start(Settings());
        Next<TrainingProgress>(listener, p => p.Step >= 2);
        var journal = TestJournal.FromRef(Persistence.Instance.Apply(Sys).JournalFor(null));
        await journal.OnWrite.Fail();
        Watch(coordinator);
        coordinator.Tell(new SaveCheckpoint("s"));                                                   // a Persist (CheckpointSaved)
        var finished = Next<TrainingFinished>(listener);
        Assert.Equal(Outcome.Failed, finished.Outcome);
        Assert.Contains("journal write failed", finished.Message, StringComparison.Ordinal);
        Assert.Contains("re-run to resume", finished.Message, StringComparison.Ordinal);
        ExpectTerminated(coordinator, Patience);
    }

    /// <summary>Joins <paramref name="node"/> as a remote replica: it gets JoinRun and the snapshot at a step boundary,
    /// answers ReplicaReady; returns the step it joined at.</summary>
    long Join(IActorRef coordinator, TestProbe node, string name)
    {
        coordinator.Tell(new WorkerJoined(node.Ref, name, "cpu"));
        var join = (JoinRun)node.FishForMessage(m => m is JoinRun, Patience);
        var chunks = Enumerable.Range(0, join.BlobChunks).Select(_ => (BlobChunk)node.FishForMessage(m => m is BlobChunk, Patience)).ToList();
        var snapshot = TrainingCheckpoint.FromBytes(BlobChunk.Join(chunks), "join");
        Assert.Equal(join.Step, snapshot.Step);                                                      // the state at the boundary it joins at
        node.Send(coordinator, new ReplicaReady(join.Generation, join.Step));
        return join.Step;
    }

    [Fact]
    public void Coordinator_should_join_a_worker_at_a_step_boundary_and_give_it_micro_batches()
    {
        var coordinator = Start(Settings());
        Next<TrainingProgress>(listener, p => p.Step >= 1);
        var node = CreateTestProbe("node-a");
        var at = Join(coordinator, node, "node-a");
        var work = (RemoteCompute)node.FishForMessage(m => m is RemoteCompute, Patience);
        Assert.True(work.Step >= at, $"work for step {work.Step} before the join step {at}");
        Assert.Equal(2, work.MicroCount);
    }

    [Fact]
    public void Coordinator_should_reassign_the_micro_batches_of_a_worker_lost_mid_step()
    {
        var coordinator = Start(Settings(), localCompute: false);                                   // only the remote computes
        Next<TrainingBegan>(listener);
        var node = CreateTestProbe("node-b");
        Join(coordinator, node, "node-b");
        var work = (RemoteCompute)node.FishForMessage(m => m is RemoteCompute, Patience);          // the node never answers
        coordinator.Tell(new WorkerLeft(node.Ref, "unreachable"));
        var notice = Next<TrainingNotice>(listener, n => n.Text.StartsWith("reassigned", StringComparison.Ordinal));
        Assert.Contains($"of step {work.Step} from node-b", notice.Text, StringComparison.Ordinal);
        Next<TrainingProgress>(listener, p => p.Step == work.Step + 1);                             // worker-0 finished it
        // worker-0 computes only as the last resort for a step in flight: the next step waits for a node to join.
        Assert.DoesNotContain(listener.ReceiveWhile(TimeSpan.FromSeconds(1), m => m), m => m is TrainingProgress);
        var again = CreateTestProbe("node-c");
        Join(coordinator, again, "node-c");
        Assert.Equal(work.Step + 1, ((RemoteCompute)again.FishForMessage(m => m is RemoteCompute, Patience)).Step);
    }
}
