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
using MiniMind.Actors.Stages;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Transport;

namespace MiniMind.Cluster.Nodes;

/// <summary>How to host a node. <c>node seed</c>: <see cref="Seed"/> null, a journal, a fixed port. <c>node worker</c>: a
/// seed. <c>minimind train</c>: a seed on port 0 with the run dir's own run manager (<see cref="ForTraining"/>).</summary>
public sealed record NodeOptions
{
    /// <summary>Akka.Remote host name this node binds to and advertises.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Akka.Remote port (0 = any free port; a seed that workers join needs a fixed one).</summary>
    public int Port { get; init; }
    /// <summary>Port of the bulk channel that carries gradients between nodes (bound on <see cref="Host"/>; 0 = any free port).</summary>
    public int BulkPort { get; init; }
    /// <summary>Worker: the seed's "host:port". Seed: null (it joins itself).</summary>
    public string? Seed { get; init; }
    /// <summary>The control endpoint's "host:port" (HTTP; loopback by default), or null for none.</summary>
    public string? Control { get; init; }
    /// <summary>The control endpoint's access token: required (and checked on every request) when <see cref="Control"/>
    /// is not a loopback address.</summary>
    public string? ControlToken { get; init; }
    /// <summary>Seed: the journal of the run manager and of every run's coordinator.</summary>
    public JournalSpec? Journal { get; init; }
    /// <summary>Seed: the run manager's persistence id (a seed owns its journal; a <c>train</c> process owns its run dir's).</summary>
    public string RunManagerPersistenceId { get; init; } = RunIdentity.SeedRunManagerPersistenceId;
    /// <summary>Seed: recovery restarts an unfinished run (a <c>train</c> process waits for its own command instead).</summary>
    public bool ResumeRunsOnRecovery { get; init; } = true;
    /// <summary>Seed: every step goes through the gradient aggregator (workers may join); <c>train</c>: the replica
    /// accumulates locally. Goes away with the one step path (issue 11).</summary>
    public bool AggregateGradients { get; init; } = true;
    /// <summary>The device(s) of this node's training worker (several: "cuda:0,cuda:1", one replica each, reducing locally);
    /// on a seed, null = no local worker (its replica only applies updates, snapshots and exports, on the CPU).</summary>
    public string? Device { get; init; }
    /// <summary>Torch threads of this node's replica (0 = the run's --threads).</summary>
    public int Threads { get; init; }
    /// <summary>Failure detector and split-brain resolver timing (see docs/cluster.md).</summary>
    public FailureTiming Timing { get; init; } = FailureTiming.LongRun;
    /// <summary>Resolves <c>POST /api/train/start</c> requests (the CLI's finds the repository's default files).</summary>
    public TrainRequests TrainRequests { get; init; } = new();
    /// <summary>Faults, delays and datasets the tests inject.</summary>
    public NodeTestHooks Hooks { get; init; } = NodeTestHooks.None;
    public Akka.Event.LogLevel AkkaLogLevel { get; init; } = Akka.Event.LogLevel.WarningLevel;
    public ILoggerProvider? LoggerProvider { get; init; }

    public bool IsSeed => Seed is null;

    /// <summary><c>minimind train</c>: a cluster of one on loopback (any free ports) with the run dir's run manager, a
    /// worker on the run's device, and the control endpoint at <paramref name="control"/> (null: none).</summary>
    public static NodeOptions ForTraining(TrainingSettings s, JournalSpec journal, string? control = null, string? controlToken = null) => new()
    {
        Journal = journal,
        RunManagerPersistenceId = RunIdentity.LocalRunManagerPersistenceId(s.RunDir),
        ResumeRunsOnRecovery = false,
        AggregateGradients = false,
        Device = s.Device,
        Threads = s.Threads,
        Control = control,
        ControlToken = controlToken,
        Timing = FailureTiming.LongRun,
    };
}

/// <summary>Failure detector + split-brain resolver timing. <see cref="LongRun"/> is generous: gradients share the TCP
/// association with heartbeats (notes/akka.md §4), and a 100-hour run should not lose a node to a GC pause or a
/// burst of chunks. <see cref="Fast"/> is for tests (seconds instead of tens of seconds to notice a SIGKILL).</summary>
public sealed record FailureTiming(TimeSpan HeartbeatInterval, TimeSpan AcceptableHeartbeatPause, TimeSpan StableAfter)
{
    public static FailureTiming LongRun { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));
    public static FailureTiming Fast { get; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3));
}

/// <summary>How a node turns a <see cref="TrainRequest"/> (<c>POST /api/train/start</c>) into settings: the Actors layer's
/// <see cref="TrainRequestResolver"/>, with paths made absolute on this node (relative ones are this node's).</summary>
public sealed class TrainRequests(Func<string, string>? locate = null)
{
    public TrainingSettings Resolve(TrainRequest request)
    {
        var s = TrainRequestResolver.Resolve(request, locate).Settings;
        return s with
        {
            DataPath = Path.GetFullPath(s.DataPath), TokenizerPath = Path.GetFullPath(s.TokenizerPath), RunDir = Path.GetFullPath(s.RunDir),
            InitFrom = s.InitFrom is null ? null : Path.GetFullPath(s.InitFrom),
            FrozenModelPath = s.FrozenModelPath is null ? null : Path.GetFullPath(s.FrozenModelPath),
        };
    }
}

sealed class ManualLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A running cluster node: the IHost (a WebApplication with the control endpoint on a seed), its ActorSystem.</summary>
public sealed class NodeHost : IAsyncDisposable
{
    public const string SystemName = "minimind";

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
        if (o.Control is { } control)
        {
            ControlAuth.ValidateBinding(ControlHostName(control), o.ControlToken);
            web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            web.WebHost.UseUrls($"http://{control}");
            builder = web;
        }
        else
        {
            builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        }
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(o.LoggerProvider ?? new StderrLoggerProvider());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // a failed start is thrown to the caller, who says what it means (and may retry on another port)
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // No ConsoleLifetime: it would stop the host on SIGINT/SIGTERM mid-step. The CLI drains on those signals itself.
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        builder.Services.AddHealthChecks();
        builder.Services.AddSingleton(o.TrainRequests);
        var monitor = new TrainingMonitor();
        var runs = new RunRegistry();
        builder.Services.AddOps(monitor, runs);

        var roles = new List<string>();
        if (o.IsSeed) roles.Add(NodeHosting.CoordinatorRole);
        if (o.Device is not null) roles.Add(NodeHosting.WorkerRole);
        var devices = o.Device is null ? [] : ClusterWorker.ParseDevices(o.Device);
        // A seed with one device computes on the coordinator's own replica (worker-0). With several, worker-0 only
        // applies updates (on the first device) and a local ClusterWorker computes on all of them, like a worker node.
        var localWorkerNode = devices.Length > 1 || (o.Device is not null && !o.IsSeed);
        BulkChannel? bulk = null;

        builder.Services.AddAkka(SystemName, (akka, _) =>
        {
            akka.WithTrainingLogging(o.AkkaLogLevel)
                .WithNodeCluster(o.Host, o.Port, o.Seed, roles, o.Timing)
                .WithTrainingSerialization()
                .WithWorkerDispatcher()
                .WithHostOwnedShutdown()
                .WithActorSystemLivenessCheck()
                .WithNodeInspector()
                .WithBulkGradients(o.Host, o.BulkPort, b => bulk = b);
            if (o.IsSeed)
                akka.WithRunManager(o.Journal!, o.RunManagerPersistenceId, devices, o.Threads, o.ResumeRunsOnRecovery, o.AggregateGradients, o.Hooks)
                    .WithOpsFeed(monitor, runs);
            else
                akka.WithRunManagerProxy();
            if (localWorkerNode) akka.WithWorkerNode(o.Device!, o.Threads, o.Hooks.ComputeDelay);
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
            // e.g. the control port was taken between the check and the bind: stop what did start (the actor system)
            try { await h.StopAsync(TimeSpan.FromSeconds(10)); }
            catch (Exception e) when (e is OperationCanceledException or AggregateException or InvalidOperationException) { }
            h.Dispose();
            if (bulk is not null) await bulk.DisposeAsync();
            throw;
        }
        return new NodeHost(h, h.Services.GetRequiredService<ActorSystem>(), bulk);
    }

    /// <summary>A run dir trained before runs were identified by run dir has its events under the stage's old persistence
    /// id (<see cref="RunIdentity.LegacyCoordinatorPersistenceId"/>) in its own journal: copied under the run's id (once,
    /// when that is empty), it resumes (or is complete) instead of silently starting over. Returns the events copied.
    /// Only for a journal that belongs to the run dir: in a shared one the old id may be another run dir's.</summary>
    public async Task<int> AdoptLegacyJournalAsync(TrainingSettings settings, TimeSpan timeout)
    {
        var events = await System.ActorOf(LocalRun.RunJournalReader.Props(RunIdentity.LegacyCoordinatorPersistenceId(settings)))
            .Ask<List<ITrainingEvent>>(LocalRun.RunJournalReader.ReadEvents.Instance, timeout);
        if (events.Count == 0) return 0;
        return await System.ActorOf(LocalRun.RunJournalCopier.Props(RunIdentity.CoordinatorPersistenceId(settings), events))
            .Ask<int>(LocalRun.RunJournalCopier.Copy.Instance, timeout);
    }

    /// <summary>Starts a run on this node (a seed) and follows it: its reports, with the run's rates, go to
    /// <paramref name="report"/> (on an actor's thread); <see cref="LocalRun.Finished"/> completes when it ends.
    /// <c>minimind train</c> and the tests.</summary>
    public Task<LocalRun> TrainAsync(TrainingSettings settings, Action<RunReported> report, CancellationToken ct = default) =>
        LocalRun.StartAsync(System, host.Services.GetRequiredService<IRequiredActor<RunManagerKey>>().ActorRef, settings, report, ct);

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
