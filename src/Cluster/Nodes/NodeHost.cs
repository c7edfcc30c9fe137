using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Pattern;
using Akka.Remote.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Transport;

namespace MiniMind.Cluster.Nodes;

/// <summary>How to host a cluster node (issue 5).</summary>
public sealed record NodeOptions
{
    /// <summary>Akka.Remote host name this node binds to and advertises.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Akka.Remote port (0 = any free port; a seed needs a fixed one).</summary>
    public int Port { get; init; }
    /// <summary>Port of the bulk channel that carries gradients between nodes (bound on <see cref="Host"/>; 0 = any free port).</summary>
    public int BulkPort { get; init; }
    /// <summary>Worker: the seed's "host:port". Seed: null (it joins itself).</summary>
    public string? Seed { get; init; }
    /// <summary>Seed: the control endpoint's "host:port" (HTTP; loopback by default).</summary>
    public string? Control { get; init; }
    /// <summary>The control endpoint's access token: required (and checked on every request) when <see cref="Control"/>
    /// is not a loopback address.</summary>
    public string? ControlToken { get; init; }
    /// <summary>Seed: the journal of the run manager and of every run's coordinator.</summary>
    public JournalSpec? Journal { get; init; }
    /// <summary>The device(s) of this node's training worker (several: "cuda:0,cuda:1", one replica each, reducing locally);
    /// on a seed, null = no local worker (its replica only applies updates, snapshots and exports, on the CPU).</summary>
    public string? Device { get; init; }
    /// <summary>Torch threads of this node's replica (0 = the run's --threads).</summary>
    public int Threads { get; init; }
    /// <summary>Failure detector and split-brain resolver timing (see docs/cluster.md).</summary>
    public FailureTiming Timing { get; init; } = FailureTiming.LongRun;
    /// <summary>Seed: turns a stage name and `minimind train &lt;stage&gt;` flags into settings (the CLI's parser).</summary>
    public ITrainArgsParser? TrainArgs { get; init; }
    /// <summary>Test hook: delay before each micro-batch a worker node computes.</summary>
    public TimeSpan ComputeDelay { get; init; }
    public Akka.Event.LogLevel AkkaLogLevel { get; init; } = Akka.Event.LogLevel.WarningLevel;
    public ILoggerProvider? LoggerProvider { get; init; }

    public bool IsSeed => Seed is null;
}

/// <summary>Failure detector + split-brain resolver timing. <see cref="LongRun"/> is generous: gradients share the TCP
/// association with heartbeats (notes/akka.md §4), and a 100-hour run should not lose a node to a GC pause or a
/// burst of chunks. <see cref="Fast"/> is for tests (seconds instead of tens of seconds to notice a SIGKILL).</summary>
public sealed record FailureTiming(TimeSpan HeartbeatInterval, TimeSpan AcceptableHeartbeatPause, TimeSpan StableAfter)
{
    public static FailureTiming LongRun { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));
    public static FailureTiming Fast { get; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3));
}

/// <summary>Seed nodes parse `ctl train start` flags with this (implemented by the CLI: the same options as `minimind train`).</summary>
public interface ITrainArgsParser
{
    TrainingSettings Parse(string stage, IReadOnlyList<string> args);
}

/// <summary>Marker key of the run manager singleton proxy in the actor registry.</summary>
public sealed class RunManagerKey;

/// <summary>A running cluster node: the IHost (a WebApplication with the control endpoint on a seed), its ActorSystem.</summary>
public sealed class NodeHost : IAsyncDisposable
{
    public const string SystemName = "minimind";
    public const string CoordinatorRole = "coordinator";
    public const string WorkerRole = "worker";

    readonly IHost host;
    readonly BulkChannel? bulk;

    NodeHost(IHost host, ActorSystem system, BulkChannel? bulk)
    {
        this.host = host;
        System = system;
        this.bulk = bulk;
    }

    /// <summary>Where this node's bulk channel (gradients between nodes) listens.</summary>
    public BulkEndpoint? BulkEndpoint => bulk?.Endpoint;

    public ActorSystem System { get; }

    /// <summary>Completes when the ActorSystem terminates (e.g. this node was downed by the split-brain resolver).</summary>
    public Task Terminated => System.WhenTerminated;

    public Akka.Actor.Address SelfAddress => Akka.Cluster.Cluster.Get(System).SelfAddress;

    public static async Task<NodeHost> StartAsync(NodeOptions o, CancellationToken ct = default)
    {
        IHostApplicationBuilder builder;
        WebApplicationBuilder? web = null;
        if (o.IsSeed && o.Journal is null) throw new ArgumentException("a seed node needs a journal");
        // The seed always serves the control endpoint; a worker only when started with --control (its own members'
        // view, actor tree and metrics; train verbs go to the coordinator singleton through the proxy).
        if (o.IsSeed || o.Control is not null)
        {
            ControlAuth.ValidateBinding(ControlHostName(o.Control ?? "127.0.0.1:0"), o.ControlToken);
            web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            web.WebHost.UseUrls($"http://{o.Control ?? "127.0.0.1:0"}");
            builder = web;
        }
        else
        {
            builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        }
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(o.LoggerProvider ?? new StderrLoggerProvider());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        builder.Services.AddHealthChecks();
        if (o.TrainArgs is not null) builder.Services.AddSingleton(o.TrainArgs);
        var monitor = new TrainingMonitor();
        var runs = new RunRegistry();
        builder.Services.AddOps(monitor, runs);

        var self = $"akka.tcp://{SystemName}@{o.Host}:{o.Port}";
        var seed = o.IsSeed ? self : $"akka.tcp://{SystemName}@{o.Seed}";
        var roles = new List<string>();
        if (o.IsSeed) roles.Add(CoordinatorRole);
        if (o.Device is not null) roles.Add(WorkerRole);
        var singleton = new ClusterSingletonOptions { Role = CoordinatorRole };
        var device = o.Device;
        var devices = device is null ? [] : ClusterWorker.ParseDevices(device);
        var threads = o.Threads;
        // A seed with one device computes on the coordinator's own replica (worker-0). With several, worker-0 only
        // applies updates (on the first device) and a local ClusterWorker computes on all of them, like a worker node.
        var localWorkerNode = devices.Length > 1 || (device is not null && !o.IsSeed);
        BulkChannel? bulk = null;

        builder.Services.AddAkka(SystemName, (akka, _) =>
        {
            akka.WithTrainingLogging(o.AkkaLogLevel)
                .WithRemoting(new RemoteOptions { HostName = o.Host, Port = o.Port, MaxFrameSize = GradientChunk.MaxBytes + 64 * 1024 })
                .WithClustering(new ClusterOptions
                {
                    SeedNodes = [seed],
                    Roles = [.. roles],
                    ClusterReadyCheck = true,
                    // The seed holds the journal and the coordinator: its side survives a partition; a worker cut off
                    // from it downs itself and rejoins (see docs/cluster.md).
                    SplitBrainResolver = new KeepOldestOption { DownIfAlone = false, Role = CoordinatorRole },
                    FailureDetector = new PhiAccrualFailureDetectorOptions
                    {
                        HeartbeatInterval = o.Timing.HeartbeatInterval,
                        AcceptableHeartbeatPause = o.Timing.AcceptableHeartbeatPause,
                    },
                })
                .AddHocon($"akka.cluster.split-brain-resolver.stable-after = {(int)o.Timing.StableAfter.TotalMilliseconds}ms", HoconAddMode.Prepend)
                // A worker started before the seed (or rejoining a restarted seed) retries every 2 s, not 10 s.
                .AddHocon("akka.cluster.seed-node-timeout = 2s\nakka.cluster.retry-unsuccessful-join-after = 2s", HoconAddMode.Prepend)
                .WithTrainingSerialization()
                .WithWorkerDispatcher()
                .WithActorSystemLivenessCheck()
                // every node answers `ctl actor hierarchy|health` for itself (the control endpoint asks each member's)
                .WithActors((system, _) => system.ActorOf(NodeInspector.Props(), NodeInspector.Name))
                // Gradients between nodes travel over a bulk channel of this node's own (src/Cluster/Transport/README.md).
                .WithActors((system, _) =>
                {
                    bulk = BulkChannel.Start(new BulkChannelOptions { BindHost = o.Host, Port = o.BulkPort }, system.Log);
                    BulkGradientTransport.Install(system, bulk);
                });
            if (o.IsSeed)
            {
                var journal = o.Journal!;
                akka.WithTrainingPersistence(journal)
                    .WithSingleton<RunManagerKey>("run-manager", (_, _, _) => RunManager.Props(RunIdentity.SeedRunManagerPersistenceId, (runId, settings, listener) =>
                    {
                        var s = settings with { Device = devices.FirstOrDefault() ?? "cpu", Threads = threads > 0 ? threads : settings.Threads };
                        var coordinator = TrainingCoordinator.Props(RunIdentity.CoordinatorPersistenceId(s), s, TrainingRun.OpenDataset, listener,
                            localCompute: devices.Length == 1);
                        return BackoffSupervisor.Props(Backoff.OnStop(coordinator, "coordinator", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, 3));
                    }), singleton, createProxyToo: true)
                    .WithActors((system, _) => system.ActorOf(OpsFeed.Props(monitor, runs), "ops-feed"));
            }
            else
            {
                akka.WithSingletonProxy<RunManagerKey>("run-manager", singleton);
            }
            if (localWorkerNode)
            {
                akka.WithActors((system, registry) =>
                {
                    var proxy = registry.Get<RunManagerKey>();
                    var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
                    var node = $"{self.Host}:{self.Port}";
                    system.ActorOf(ClusterWorker.Props(node, device!, threads, proxy, computeDelay: o.ComputeDelay), "worker");
                });
            }
        });

        IHost h;
        if (web is not null)
        {
            var app = web.Build();
            app.UseControlToken(o.ControlToken);
            app.MapControlRoutes();
            h = app;
        }
        else
        {
            h = ((HostApplicationBuilder)builder).Build();
        }
        try
        {
            await h.StartAsync(ct);
        }
        catch
        {
            if (bulk is not null) await bulk.DisposeAsync();
            throw;
        }
        return new NodeHost(h, h.Services.GetRequiredService<ActorSystem>(), bulk);
    }

    /// <summary>The control endpoint's bound address (the seed, or a worker started with --control), e.g. http://127.0.0.1:47401.</summary>
    public string? ControlUrl =>
        host is WebApplication app ? app.Urls.FirstOrDefault() : null;

    /// <summary>The host part of "host:port" ("[::1]:5470" → "::1").</summary>
    public static string ControlHostName(string hostPort)
    {
        var colon = hostPort.LastIndexOf(':');
        return (colon > 0 ? hostPort[..colon] : hostPort).Trim('[', ']');
    }

    /// <summary>Graceful: leave the cluster (workers hand their micro-batches back), then stop.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!System.WhenTerminated.IsCompleted)
                await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance).WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException) { }
        try { await host.StopAsync(TimeSpan.FromSeconds(10)); }
        finally
        {
            host.Dispose();
            if (bulk is not null) await bulk.DisposeAsync();
        }
    }
}
