using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors;

/// <summary>
/// The training side of a worker node (issue 5), at <c>/user/worker</c>. Registers with the run manager (through the
/// cluster singleton proxy) every few seconds; on <see cref="JoinRun"/> it builds a <see cref="GpuWorker"/> replica
/// from the coordinator's snapshot, then keeps it in lock-step with the coordinator's replica: for each step it
/// computes the micro-batches it is assigned (<see cref="RemoteCompute"/>, gradient chunks straight to the aggregator)
/// and applies the reduced gradient the aggregator broadcasts (<see cref="ReducedGradient"/> + chunks), in step order.
/// Messages from the coordinator and the aggregator may arrive in any interleaving; they wait here until the replica
/// is at their step.
/// </summary>
public sealed class ClusterWorker : ReceiveActor, IWithTimers
{
    readonly string node;
    readonly string device;
    readonly int threads;
    readonly IActorRef runManager;
    readonly TimeSpan computeDelay;
    readonly ILoggingAdapter log = Context.GetLogger();

    int generation = -1;
    TrainingSettings? settings;
    IActorRef coordinator = ActorRefs.Nobody, replica = ActorRefs.Nobody;
    int blobCount;
    readonly Dictionary<int, BlobChunk> blob = [];
    bool ready, applying;
    long replicaStep = -1;
    readonly Dictionary<long, List<(RemoteCompute Work, IActorRef Aggregator)>> computes = [];
    readonly Dictionary<long, ReducedGradient> reduced = [];
    readonly Dictionary<long, Dictionary<int, GradientChunk>> reducedChunks = [];
    int incarnation;

    sealed record Register;

    /// <summary>Read-only query (the node inspector, <c>ctl actor health</c>): answered with <see cref="ReplicaState"/>.</summary>
    public sealed record FetchReplicaState
    {
        public static FetchReplicaState Instance { get; } = new();
    }

    /// <summary>The replica as this worker sees it: run generation (-1: not in a run), the step it is at, whether it is
    /// ready (built from the snapshot) and applying a reduced gradient, and the work waiting for it.</summary>
    public sealed record ReplicaState(string Node, string Device, int Generation, long Step, bool Ready, bool Applying,
        int QueuedComputes, int QueuedReduced, string? Replica);

    public ClusterWorker(string node, string device, int threads, IActorRef runManager, TimeSpan registerEvery, TimeSpan computeDelay)
    {
        this.computeDelay = computeDelay;
        this.node = node;
        this.device = device;
        this.threads = threads;
        this.runManager = runManager;
        Receive<Register>(_ => runManager.Tell(new RegisterWorker(node, device)));
        Receive<JoinRun>(OnJoin);
        Receive<BlobChunk>(OnBlob);
        Receive<WorkerReady>(OnReady);
        Receive<RemoteCompute>(c =>
        {
            if (c.Generation != generation || (ready && c.Step < replicaStep)) return;
            if (!computes.TryGetValue(c.Step, out var list)) computes[c.Step] = list = [];
            list.Add((c, Sender));
            Drain();
        });
        Receive<ReducedGradient>(r => { if (r.Generation == generation) { reduced[r.Step] = r; Drain(); } });
        Receive<GradientChunk>(c =>
        {
            if (c.Micro != ReducedGradient.ReducedMicro || (ready && c.Step < replicaStep)) return;
            if (!reducedChunks.TryGetValue(c.Step, out var chunks)) reducedChunks[c.Step] = chunks = [];
            chunks.TryAdd(c.Index, c);
            Drain();
        });
        Receive<StepRan>(s =>
        {
            if (s.Generation != generation) return;
            applying = false;
            replicaStep = s.Step + 1;
            Drain();
        });
        Receive<WorkerRestarted>(r =>
        {
            // The replica lost its model: forget the run; the coordinator reassigns our micro-batches and re-joins us.
            log.Warning("replica failed ({0}); asking the coordinator to re-join it", r.Reason);
            if (generation >= 0) coordinator.Tell(new ReplicaLost(generation, r.Reason));
            Reset(-1);
        });
        Receive<FetchReplicaState>(_ => Sender.Tell(new ReplicaState(node, device, generation, replicaStep, ready, applying,
            computes.Values.Sum(l => l.Count), reduced.Count, replica.IsNobody() ? null : replica.Path.Name)));
        Timers.StartPeriodicTimer("register", new Register(), TimeSpan.Zero, registerEvery);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="computeDelay">Test hook: each micro-batch starts this much later (paces a run so that a test can
    /// act in the middle of it on a loaded machine).</param>
    public static Props Props(string node, string device, int threads, IActorRef runManager, TimeSpan? registerEvery = null, TimeSpan computeDelay = default) =>
        Akka.Actor.Props.Create(() => new ClusterWorker(node, device, threads, runManager, registerEvery ?? TimeSpan.FromSeconds(2), computeDelay));

    void Reset(int newGeneration)
    {
        if (!replica.IsNobody()) Context.Stop(replica);
        replica = ActorRefs.Nobody;
        generation = newGeneration;
        ready = applying = false;
        replicaStep = -1;
        blob.Clear();
        computes.Clear();
        reduced.Clear();
        reducedChunks.Clear();
    }

    void OnJoin(JoinRun j)
    {
        Reset(j.Generation);
        var s = TrainingSettings.FromJson(j.SettingsJson);
        settings = s with { Device = device, Threads = threads > 0 ? threads : s.Threads };
        coordinator = Sender;
        blobCount = j.BlobChunks;
        log.Info("joining run {0} at step {1} (generation {2})", j.RunId, j.Step, j.Generation);
    }

    void OnBlob(BlobChunk b)
    {
        if (b.Generation != generation || settings is null || !replica.IsNobody()) return;
        blob.TryAdd(b.Index, b);
        if (blob.Count < blobCount) return;
        var checkpoint = TrainingCheckpoint.FromBytes(BlobChunk.Join(blob.Values), "join snapshot");
        blob.Clear();
        var props = GpuWorker.Props(settings);
        if (Context.System.Dispatchers.HasDispatcher(GpuWorker.DispatcherId)) props = props.WithDispatcher(GpuWorker.DispatcherId);
        replica = Context.ActorOf(props, $"replica-{generation}-{++incarnation}");
        replica.Tell(new Initialize(generation, checkpoint));
    }

    void OnReady(WorkerReady w)
    {
        if (w.Generation != generation) return;
        ready = true;
        replicaStep = w.Step;
        coordinator.Tell(new ReplicaReady(generation, replicaStep));
        Drain();
    }

    /// <summary>Forward what the replica can do now: its step's micro-batches first, then that step's reduced gradient.</summary>
    void Drain()
    {
        if (!ready || applying) return;
        foreach (var old in computes.Keys.Where(k => k < replicaStep).ToList()) computes.Remove(old);
        if (computes.Remove(replicaStep, out var work))
            foreach (var (c, aggregator) in work)
            {
                var compute = new ComputeGradients(generation, c.Step, c.Micro, c.MicroCount, c.Batch, aggregator);
                if (computeDelay > TimeSpan.Zero) Context.System.Scheduler.ScheduleTellOnce(computeDelay, replica, compute, Self);
                else replica.Tell(compute);
            }
        if (!reduced.TryGetValue(replicaStep, out var r) || !reducedChunks.TryGetValue(replicaStep, out var chunks)) return;
        if (chunks.Count == 0 || chunks.Count < chunks.Values.First().Count) return;
        reduced.Remove(replicaStep);
        reducedChunks.Remove(replicaStep);
        applying = true;
        replica.Tell(new ApplyGradients(generation, r.Step, r.Lr, GradientChunk.Join(chunks.Values, r.Length), r.Loss, r.Tokens));
    }
}
