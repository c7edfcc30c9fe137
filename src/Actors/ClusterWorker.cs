using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Model;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors;

/// <summary>
/// The training side of a worker node (issue 5), at <c>/user/worker</c>. Registers with the run manager (through the
/// cluster singleton proxy) every few seconds; on <see cref="JoinRun"/> it builds one <see cref="GpuWorker"/> replica per
/// device from the coordinator's snapshot, then keeps them in lock-step with the coordinator's replica: for each step
/// they compute the micro-batches the node is assigned (<see cref="RemoteCompute"/>) and apply the reduced gradient the
/// aggregator broadcasts (<see cref="ReducedGradient"/> + chunks), in step order.
///
/// Gradients are added up here before anything crosses the network: the node's micro-batches of a step form whole blocks
/// of <see cref="MicroReduction"/>'s tree (the coordinator hands out neighbouring micro-batches), and the node sends one
/// gradient per block, summed in the tree's order, so the result stays bit for bit that of a single process.
/// Messages from the coordinator and the aggregator may arrive in any interleaving; they wait here until the replicas
/// are at their step.
/// </summary>
public sealed class ClusterWorker : ReceiveActor, IWithTimers
{
    readonly string node;
    readonly string device;
    readonly string[] devices;
    readonly int threads;
    readonly TimeSpan computeDelay;
    readonly ILoggingAdapter log = Context.GetLogger();

    int generation = -1;
    TrainingSettings? settings;
    IActorRef coordinator = ActorRefs.Nobody;
    IActorRef[] replicas = [];
    readonly HashSet<IActorRef> readyReplicas = [];
    int blobCount;
    readonly Dictionary<int, BlobChunk> blob = [];
    bool ready;
    int applying;              // replicas still applying the current step's update
    long replicaStep = -1;
    int nextReplica;
    readonly Dictionary<long, List<(RemoteCompute Work, IActorRef Aggregator)>> computes = [];
    readonly Dictionary<long, ReducedGradient> reduced = [];
    readonly Dictionary<long, Dictionary<int, GradientChunk>> reducedChunks = [];
    readonly List<Group> groups = [];
    int incarnation;

    sealed record Register;

    /// <summary>The micro-batches of one step that the coordinator gave this node together, and what is back of them.</summary>
    sealed class Group(long step, int microCount, IReadOnlyList<int> micros, IActorRef aggregator)
    {
        public long Step { get; } = step;
        public int MicroCount { get; } = microCount;
        public IReadOnlyList<int> Micros { get; } = micros;
        public IActorRef Aggregator { get; } = aggregator;
        public IReadOnlyList<(int Start, int Span)> Blocks { get; } = MicroReduction.Blocks(micros.ToHashSet(), microCount);
        public HashSet<int> Started { get; } = [];
        public Dictionary<int, float[]> Gradients { get; } = [];
        public HashSet<(int, int)> Sent { get; } = [];
        public bool Done => Sent.Count == Blocks.Count;
    }

    /// <summary>Read-only query (the node inspector, <c>ctl actor health</c>): answered with <see cref="ReplicaState"/>.</summary>
    public sealed record FetchReplicaState
    {
        public static FetchReplicaState Instance { get; } = new();
    }

    /// <summary>The replicas as this worker sees them: its device(s), run generation (-1: not in a run), the step they
    /// are at, whether all are ready (built from the snapshot) and any is applying a reduced gradient, how many replicas
    /// exist and are ready, and the work waiting for them.</summary>
    public sealed record ReplicaState(string Node, string Device, int Generation, long Step, bool Ready, bool Applying,
        int QueuedComputes, int QueuedReduced, int Replicas, int ReadyReplicas);

    public ClusterWorker(string node, string device, int threads, IActorRef runManager, TimeSpan registerEvery, TimeSpan computeDelay)
    {
        this.computeDelay = computeDelay;
        this.node = node;
        this.device = device;
        devices = DeviceList.Parse(device);
        this.threads = threads;
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
        Receive<LocalGradient>(OnLocalGradient);
        Receive<GradientChunk>(c =>
        {
            if (c.Micro != ReducedGradient.ReducedMicro || (ready && c.Step < replicaStep)) return;
            if (!reducedChunks.TryGetValue(c.Step, out var chunks)) reducedChunks[c.Step] = chunks = [];
            chunks.TryAdd(c.Index, c);
            Drain();
        });
        Receive<GradientAggregator.MicroBatchDone>(d =>
        {
            // A replica finished a micro-batch: the aggregator needs its loss and tokens whatever block it travels in.
            if (groups.FirstOrDefault(g => g.Step == d.Step && g.Micros.Contains(d.Micro)) is { } g) g.Aggregator.Tell(d);
        });
        Receive<StepRan>(s =>
        {
            if (s.Generation != generation || applying == 0) return;
            if (--applying > 0) return;
            replicaStep = s.Step + 1;
            Drain();
        });
        Receive<WorkerRestarted>(r =>
        {
            // A replica lost its model: forget the run; the coordinator reassigns our micro-batches and re-joins us.
            log.Warning("replica failed ({0}); asking the coordinator to re-join it", r.Reason);
            if (generation >= 0) coordinator.Tell(new ReplicaLost(generation, r.Reason));
            Reset(-1);
        });
        Receive<FetchReplicaState>(_ => Sender.Tell(new ReplicaState(node, device, generation, replicaStep, ready, applying > 0,
            computes.Values.Sum(l => l.Count), reduced.Count, replicas.Length, readyReplicas.Count)));
        Timers.StartPeriodicTimer("register", new Register(), TimeSpan.Zero, registerEvery);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Supervision of the replicas: Akka's default (restart), with a one-line failure log.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneLineFailureStrategy();

    /// <param name="device">One device, or several separated by commas (one replica each, e.g. <c>cuda:0,cuda:1</c>).</param>
    /// <param name="computeDelay">Test hook: each micro-batch starts this much later (paces a run so that a test can
    /// act in the middle of it on a loaded machine).</param>
    public static Props Props(string node, string device, int threads, IActorRef runManager, TimeSpan? registerEvery = null, TimeSpan computeDelay = default) =>
        Akka.Actor.Props.Create(() => new ClusterWorker(node, device, threads, runManager, registerEvery ?? TimeSpan.FromSeconds(2), computeDelay));

    void Reset(int newGeneration)
    {
        foreach (var r in replicas) Context.Stop(r);
        replicas = [];
        readyReplicas.Clear();
        generation = newGeneration;
        ready = false;
        applying = 0;
        replicaStep = -1;
        blob.Clear();
        computes.Clear();
        reduced.Clear();
        reducedChunks.Clear();
        groups.Clear();
    }

    void OnJoin(JoinRun j)
    {
        Reset(j.Generation);
        var s = TrainingSettings.FromJson(j.SettingsJson);
        settings = s with { Device = devices[0], Threads = threads > 0 ? threads : s.Threads };
        coordinator = Sender;
        blobCount = j.BlobChunks;
        log.Info("joining run {0} at step {1} (generation {2}) on {3}", j.RunId, j.Step, j.Generation, device);
    }

    void OnBlob(BlobChunk b)
    {
        if (b.Generation != generation || settings is null || replicas.Length > 0) return;
        blob.TryAdd(b.Index, b);
        if (blob.Count < blobCount) return;
        var checkpoint = TrainingCheckpoint.FromBytes(BlobChunk.Join(blob.Values), "join snapshot");
        blob.Clear();
        replicas = [.. devices.Select(d => Context.ActorOf(GpuWorker.Props(Context.System, settings with { Device = d }), $"replica-{generation}-{++incarnation}"))];
        foreach (var r in replicas) r.Tell(new Initialize(generation, checkpoint));
    }

    void OnReady(WorkerReady w)
    {
        if (w.Generation != generation || !replicas.Contains(Sender)) return;
        readyReplicas.Add(Sender);
        if (readyReplicas.Count < replicas.Length) return;
        ready = true;
        replicaStep = w.Step;
        coordinator.Tell(new ReplicaReady(generation, replicaStep));
        Drain();
    }

    /// <summary>Forward what the replicas can do now: their step's micro-batches first (spread over the devices), then that
    /// step's reduced gradient (to every replica).</summary>
    void Drain()
    {
        if (!ready || applying > 0) return;
        foreach (var old in computes.Keys.Where(k => k < replicaStep).ToList()) computes.Remove(old);
        groups.RemoveAll(g => g.Step < replicaStep);
        if (computes.Remove(replicaStep, out var work))
            foreach (var (c, aggregator) in work)
            {
                var group = GroupFor(c, aggregator);
                if (!group.Started.Add(c.Micro)) continue;
                var compute = new ComputeGradients(generation, c.Step, c.Micro, c.MicroCount, c.Batch, Self);
                var replica = replicas[nextReplica++ % replicas.Length];
                if (computeDelay > TimeSpan.Zero) Context.System.Scheduler.ScheduleTellOnce(computeDelay, replica, compute, Self);
                else replica.Tell(compute);
            }
        if (!reduced.TryGetValue(replicaStep, out var r) || !reducedChunks.TryGetValue(replicaStep, out var chunks)) return;
        if (chunks.Count == 0 || chunks.Count < chunks.Values.First().Count) return;
        reduced.Remove(replicaStep);
        reducedChunks.Remove(replicaStep);
        applying = replicas.Length;
        var gradient = GradientChunk.Join(chunks.Values, r.Length);
        foreach (var replica in replicas) replica.Tell(new ApplyGradients(generation, r.Step, r.Lr, gradient, r.Loss, r.Tokens));
    }

    /// <summary>The group this micro-batch was assigned in; a later assignment of the same step (micro-batches taken over
    /// from a lost node) is a group of its own.</summary>
    Group GroupFor(RemoteCompute c, IActorRef aggregator)
    {
        var micros = c.GroupOrSelf;
        var existing = groups.FirstOrDefault(g => g.Step == c.Step && !g.Done && g.Micros.SequenceEqual(micros) && !g.Started.Contains(c.Micro));
        if (existing is not null) return existing;
        var group = new Group(c.Step, c.MicroCount, micros, aggregator);
        groups.Add(group);
        return group;
    }

    /// <summary>A replica's gradient of one micro-batch: once a whole block of the group is back, send its sum.</summary>
    void OnLocalGradient(LocalGradient c)
    {
        var g = groups.FirstOrDefault(x => x.Step == c.Step && x.Started.Contains(c.Micro) && !x.Gradients.ContainsKey(c.Micro));
        if (g is null) return;
        g.Gradients[c.Micro] = c.Gradient;
        foreach (var (start, span) in g.Blocks)
        {
            if (g.Sent.Contains((start, span)) || !Enumerable.Range(start, span).All(g.Gradients.ContainsKey)) continue;
            var units = Enumerable.Range(start, span).ToDictionary(m => (m, 1), m => g.Gradients[m]);
            var sum = MicroReduction.ReduceOwned(units, start, span)!;
            GradientTransport.Deliver(Context.System, g.Aggregator, g.Step, start, span, sum, Self);
            g.Sent.Add((start, span));
            foreach (var m in Enumerable.Range(start, span)) g.Gradients.Remove(m);
        }
    }
}
