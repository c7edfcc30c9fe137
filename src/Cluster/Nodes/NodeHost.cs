using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Security;
using MiniMind.Cluster.Transport;

namespace MiniMind.Cluster.Nodes;

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
        o.Security.ValidateBinding(o.Host);
        var tls = o.Security.Credentials;
        if (o.Control is { } control)
        {
            ControlAuth.ValidateBinding(ControlHostName(control), o.ControlToken);
            web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            if (tls is not null)
            {
                // HTTPS with the node certificate (`ctl --ca` verifies it against the cluster CA, or `--pin` its fingerprint);
                // a plain-HTTP request gets its connection closed.
                web.WebHost.UseKestrelHttpsConfiguration();
                web.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificate = tls.Certificate));
                web.WebHost.UseUrls($"https://{control}");
            }
            else
            {
                web.WebHost.UseUrls($"http://{control}");
            }
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
        // the recorder writes the store and feeds the control endpoint's dashboard, live stream and alert gauges
        var feed = new Metrics.MetricsFeed(o.Journal is { } j ? new Metrics.MetricsStore(j) : null, o.Alerts);
        builder.Services.AddOps(monitor, runs, feed);

        var roles = new List<string>();
        if (o.IsSeed) roles.Add(NodeHosting.CoordinatorRole);
        if (o.Device is not null) roles.Add(NodeHosting.WorkerRole);
        var devices = o.Device is null ? [] : Model.DeviceList.Parse(o.Device);
        // A seed with one device computes on the coordinator's own replica (worker-0). With several, worker-0 only
        // applies updates (on the first device) and a local ClusterWorker computes on all of them, like a worker node.
        var localWorkerNode = devices.Length > 1 || (o.Device is not null && !o.IsSeed);
        BulkChannel? bulk = null;
        var rejections = new PeerRejections();

        builder.Services.AddAkka(SystemName, (akka, _) =>
        {
            akka.WithTrainingLogging(o.AkkaLogLevel)
                .WithNodeCluster(o.Host, o.Port, o.Seed, roles, o.Timing, tls, rejections)
                .WithTrainingSerialization()
                .WithWorkerDispatcher()
                .WithHostOwnedShutdown()
                .WithActorSystemLivenessCheck()
                .WithNodeInspector()
                .WithBulkGradients(o.Host, o.BulkPort, b => bulk = b, tls, rejections);
            if (o.IsSeed)
                akka.WithRunManager(o.Journal!, o.RunManagerPersistenceId, devices, o.Threads, o.ResumeRunsOnRecovery, o.Hooks, feed)
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
            app.UseCrossSiteGuard(o.ControlToken);
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
        var system = h.Services.GetRequiredService<ActorSystem>();
        NodeInspector.SetDevice(system, o.Device);
        return new NodeHost(h, system, bulk);
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

    /// <summary>Writes a journal rebuilt from checkpoints (<see cref="JournalRebuild"/>) under its persistence id, if the
    /// journal holds nothing under it yet; returns the number of events written (0: it already held some).</summary>
    public Task<int> RebuildJournalAsync(RebuiltRun run, TimeSpan timeout) =>
        System.ActorOf(LocalRun.RunJournalCopier.Props(run.PersistenceId, run.Events)).Ask<int>(LocalRun.RunJournalCopier.Copy.Instance, timeout);

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
