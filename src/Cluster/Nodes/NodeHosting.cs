using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Remote.Hosting;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Security;
using MiniMind.Cluster.Transport;
using MiniMind.Model.Data;

namespace MiniMind.Cluster.Nodes;

/// <summary>Marker key of the run manager singleton proxy in the actor registry.</summary>
public sealed class RunManagerKey;

/// <summary>Test hooks of a node, injected through hosting (the tests compose nodes with the same extensions): worker
/// faults, a pause inside every checkpoint write, a delay before each micro-batch a worker node computes, the dataset.</summary>
public sealed record NodeTestHooks
{
    public static NodeTestHooks None { get; } = new();
    public FaultPlan Faults { get; init; } = FaultPlan.None;
    public TimeSpan CheckpointWriteDelay { get; init; }
    public TimeSpan ComputeDelay { get; init; }
    /// <summary>Where a run's dataset comes from; default: <see cref="NodeHosting.OpenDataset"/>.</summary>
    public Func<TrainingSettings, ITokenizedDataset>? OpenDataset { get; init; }
}

/// <summary>
/// The node's runtime, one Akka.Hosting extension per concern. <c>minimind train</c> (a cluster of one), <c>node seed</c>,
/// <c>node worker</c> and the tests compose their nodes from these (see <see cref="NodeHost.StartAsync"/>).
/// </summary>
public static class NodeHosting
{
    public const string CoordinatorRole = "coordinator";
    public const string WorkerRole = "worker";
    const string RunManagerName = "run-manager";
    static readonly ClusterSingletonOptions Singleton = new() { Role = CoordinatorRole };

    /// <summary>The training set: the JSONL prepared once into memory-mapped token shards, cached in the run dir under
    /// data/ and rebuilt when the source, tokenizer, stage or max length changes.</summary>
    public static ITokenizedDataset OpenDataset(TrainingSettings s) => Actors.Stages.StageData.Open(s);

    /// <summary>Remoting and clustering. A seed joins itself (with port 0, once the port is bound: a cluster of one for
    /// <c>train</c>); a worker joins <paramref name="seed"/>. Split-brain resolver: keep-oldest on the coordinator role.</summary>
    /// <remarks>With <paramref name="tls"/> (issue 18) the DotNetty transport speaks mutual TLS with the cluster
    /// certificates: the node presents its certificate, requires one from every peer, and admits a peer only when its
    /// certificate chains to the cluster CA (<see cref="ClusterCredentials.IsTrusted"/>; no host-name check: node
    /// certificates move between machines). A refused peer cannot associate; <paramref name="rejections"/> counts it and
    /// logs one line naming it. Addresses are then <c>akka.ssl.tcp://</c>.</remarks>
    public static AkkaConfigurationBuilder WithNodeCluster(this AkkaConfigurationBuilder builder, string host, int port, string? seed,
        IReadOnlyList<string> roles, FailureTiming timing, ClusterCredentials? tls = null, PeerRejections? rejections = null)
    {
        var protocol = tls is null ? "akka.tcp" : "akka.ssl.tcp";
        var seeds = seed is not null ? [$"{protocol}://{NodeHost.SystemName}@{seed}"]
            : port != 0 ? new[] { $"{protocol}://{NodeHost.SystemName}@{host}:{port}" } : [];
        var remote = new RemoteOptions { HostName = host, Port = port, MaxFrameSize = GradientChunk.MaxBytes + 64 * 1024 };
        if (tls is not null)
        {
            remote.EnableSsl = true;
            remote.Ssl = new SslOptions
            {
                X509Certificate = tls.Certificate,
                SuppressValidation = false,
                RequireMutualAuthentication = true,
                ValidateCertificateHostname = false,
                CustomValidator = (certificate, _, peer, _, log) =>
                {
                    if (tls.IsTrusted(certificate, out var why)) return true;
                    rejections?.Reject(PeerRejections.Remoting, peer, why, log);
                    return false;
                },
            };
        }
        builder
            .WithRemoting(remote)
            .WithClustering(new ClusterOptions
            {
                SeedNodes = seeds,
                Roles = [.. roles],
                ClusterReadyCheck = true,
                // The seed holds the journal and the coordinator: its side survives a partition; a worker cut off
                // from it downs itself and rejoins (see docs/cluster.md).
                SplitBrainResolver = new KeepOldestOption { DownIfAlone = false, Role = CoordinatorRole },
                FailureDetector = new PhiAccrualFailureDetectorOptions
                {
                    HeartbeatInterval = timing.HeartbeatInterval,
                    AcceptableHeartbeatPause = timing.AcceptableHeartbeatPause,
                },
            })
            .AddHocon($"akka.cluster.split-brain-resolver.stable-after = {(int)timing.StableAfter.TotalMilliseconds}ms", HoconAddMode.Prepend)
            // A worker started before the seed (or rejoining a restarted seed) retries every 2 s, not 10 s; the singleton
            // proxy finds the run manager within a quarter second.
            .AddHocon("akka.cluster.seed-node-timeout = 2s\nakka.cluster.retry-unsuccessful-join-after = 2s\n" +
                      "akka.cluster.singleton-proxy.singleton-identification-interval = 250ms", HoconAddMode.Prepend);
        // On the seed the run manager singleton is local: the proxy's "no singleton found after 30 s" warning (it also
        // fires while the cluster shuts down) says nothing there. Workers keep it: there it means the seed is away.
        if (seed is null)
            builder.AddHocon("akka.cluster.singleton-proxy.log-singleton-identification-failure = off", HoconAddMode.Prepend);
        if (seeds.Length == 0)
            builder.AddStartup((system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                cluster.Join(cluster.SelfAddress);   // seed = self, on the port just bound
            });
        return builder;
    }

    /// <summary>Gradients between nodes over a bulk channel of this node's own (src/Cluster/Transport/README.md).</summary>
    /// <remarks>With <paramref name="tls"/> every bulk connection is mutual TLS with the cluster certificates (issue 18).</remarks>
    public static AkkaConfigurationBuilder WithBulkGradients(this AkkaConfigurationBuilder builder, string host, int port, Action<BulkChannel> started,
        ClusterCredentials? tls = null, PeerRejections? rejections = null) =>
        builder.WithActors((system, _) =>
        {
            rejections?.Attach(system);
            var bulk = BulkChannel.Start(new BulkChannelOptions { BindHost = host, Port = port, Tls = tls, Rejections = rejections }, system.Log);
            started(bulk);
            BulkGradientTransport.Install(system, bulk);
        });

    /// <summary>The run manager as a cluster singleton on the coordinator role (plus its proxy, registered as
    /// <see cref="RunManagerKey"/>): journals runs and runs the active one's coordinator, under a BackoffSupervisor
    /// (a persistent actor stops on a journal failure; the newest checkpoint is intact). With one local device the
    /// coordinator's own replica computes; with several, a local <see cref="WithWorkerNode"/> does.</summary>
    public static AkkaConfigurationBuilder WithRunManager(this AkkaConfigurationBuilder builder, JournalSpec journal, string persistenceId,
        IReadOnlyList<string> devices, int threads, bool resumeOnRecovery, NodeTestHooks hooks, Metrics.MetricsFeed? feed = null) =>
        builder.WithTrainingPersistence(journal)
            .WithSingleton<RunManagerKey>(RunManagerName, (_, _, _) => RunManager.Props(persistenceId, (_, settings, listener) =>
            {
                // Every run, `train` or seed, takes the one step path: micro-batch gradients through the aggregator.
                var s = settings with { Device = devices.FirstOrDefault() ?? "cpu", Threads = threads > 0 ? threads : settings.Threads };
                var coordinator = TrainingCoordinator.Props(RunIdentity.CoordinatorPersistenceId(s), s, hooks.OpenDataset ?? OpenDataset, listener,
                    hooks.Faults, hooks.CheckpointWriteDelay, localCompute: devices.Count == 1);
                return BackoffSupervisor.Props(Backoff.OnStop(coordinator, "coordinator", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, 3));
            }, resumeOnRecovery), Singleton, createProxyToo: true)
            .WithMetricsRecorder(journal, feed);

    /// <summary>Every node that may run the run manager keeps its runs' per-step history in the journal's database and
    /// TensorBoard files (<see cref="Metrics.MetricsRecorder"/>, on a thread of its own).
    /// <paramref name="feed"/>: the control endpoint's view of what it writes and of the alerts (its store is used when given).</summary>
    public static AkkaConfigurationBuilder WithMetricsRecorder(this AkkaConfigurationBuilder builder, JournalSpec journal, Metrics.MetricsFeed? feed = null) =>
        builder.AddHocon($"{Metrics.MetricsRecorder.DispatcherId} {{ type = PinnedDispatcher }}", HoconAddMode.Prepend)
            .WithActors((system, _) => system.ActorOf(Metrics.MetricsRecorder.PropsFor(system, feed?.Store ?? new Metrics.MetricsStore(journal), feed: feed),
                Metrics.MetricsRecorder.Name));

    /// <summary>A worker node reaches the run manager through a proxy of the singleton.</summary>
    public static AkkaConfigurationBuilder WithRunManagerProxy(this AkkaConfigurationBuilder builder) =>
        builder.WithSingletonProxy<RunManagerKey>(RunManagerName, Singleton);

    /// <summary>A <see cref="ClusterWorker"/> on this node's device(s): registers with the run manager, receives the
    /// weights, computes micro-batches.</summary>
    public static AkkaConfigurationBuilder WithWorkerNode(this AkkaConfigurationBuilder builder, string device, int threads, TimeSpan computeDelay) =>
        builder.WithActors((system, registry) =>
        {
            var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
            system.ActorOf(ClusterWorker.Props($"{self.Host}:{self.Port}", device, threads, registry.Get<RunManagerKey>(), computeDelay: computeDelay), "worker");
        });

    /// <summary>Every node answers <c>ctl actor hierarchy|health</c> for itself (the control endpoint asks each member's).</summary>
    public static AkkaConfigurationBuilder WithNodeInspector(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, _) => system.ActorOf(NodeInspector.Props(), NodeInspector.Name));

    /// <summary>The control endpoint's feed: run reports of this node's run manager into the monitor and the registry.</summary>
    public static AkkaConfigurationBuilder WithOpsFeed(this AkkaConfigurationBuilder builder, TrainingMonitor monitor, RunRegistry runs) =>
        builder.WithActors((system, _) => system.ActorOf(OpsFeed.Props(monitor, runs), "ops-feed"));
}
