using Akka.Actor;
using Akka.Hosting;
using Akka.Pattern;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniMind.Actors;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cluster;

/// <summary>How to host one training stage.</summary>
public sealed record TrainingRunOptions
{
    public required TrainingSettings Settings { get; init; }
    public required JournalSpec Journal { get; init; }
    public int Port { get; init; }
    public bool StrictSerialization { get; init; } = true;
    public Akka.Event.LogLevel AkkaLogLevel { get; init; } = Akka.Event.LogLevel.WarningLevel;
    /// <summary>Test hook: worker faults to inject.</summary>
    public FaultPlan Faults { get; init; } = FaultPlan.None;
    /// <summary>Test hook: a pause in the middle of every checkpoint file write.</summary>
    public TimeSpan CheckpointWriteDelay { get; init; }
    /// <summary>Where the dataset comes from; default: <see cref="OpenDataset"/>.</summary>
    public Func<TrainingSettings, ITokenizedDataset>? OpenDataset { get; init; }
    public ILoggerProvider? LoggerProvider { get; init; }
}

sealed class ManualLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Runs one training stage in an embedded one-member cluster: host up, coordinator (under a
/// BackoffSupervisor) recovers and trains, reports go to <c>report</c>; Stop requests a graceful stop.</summary>
public sealed class TrainingRun : IAsyncDisposable
{
    readonly IHost host;
    readonly TaskCompletionSource<TrainingCoordinator.TrainingFinished> finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    IActorRef supervisor = ActorRefs.Nobody;

    TrainingRun(IHost host) => this.host = host;

    public Task<TrainingCoordinator.TrainingFinished> Finished => finished.Task;

    /// <summary>The run's actor system (for the control endpoint: cluster state, actor tree).</summary>
    public ActorSystem ActorSystem => host.Services.GetRequiredService<ActorSystem>();

    /// <summary>The coordinator's BackoffSupervisor, which forwards every message to the coordinator.</summary>
    public IActorRef Coordinator => supervisor;

    /// <summary>The training set: the JSONL prepared once into memory-mapped token shards, cached in the run dir under
    /// data/ and rebuilt when the source, tokenizer, stage or max length changes.</summary>
    public static ITokenizedDataset OpenDataset(TrainingSettings s) => Actors.Stages.StageData.Open(s);

    public static async Task<TrainingRun> StartAsync(TrainingRunOptions options, Action<object> report, CancellationToken ct = default)
    {
        Directory.CreateDirectory(options.Settings.RunDir);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (options.LoggerProvider is { } lp) builder.Logging.AddProvider(lp);
        else builder.Logging.AddProvider(new StderrLoggerProvider());   // Akka's warnings → stderr
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // No ConsoleLifetime: it would stop the host on SIGINT/SIGTERM mid-step. The CLI drains on those signals itself.
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        TrainingRun? run = null;
        builder.Services.AddAkka("minimind", (akka, _) =>
        {
            akka.WithTrainingLogging(options.AkkaLogLevel)
                .WithTrainingCluster(options.Port)
                .WithTrainingPersistence(options.Journal)
                .WithTrainingSerialization(options.StrictSerialization)
                .WithWorkerDispatcher()
                .WithHostOwnedShutdown()
                .WithActors((system, registry) =>
                {
                    var listener = system.ActorOf(TrainingListener.Props(report, run!.finished), "listener");
                    var coordinator = TrainingCoordinator.Props(RunIdentity.CoordinatorPersistenceId(options.Settings), options.Settings,
                        options.OpenDataset ?? OpenDataset, listener, options.Faults, options.CheckpointWriteDelay);
                    // Persistent actors stop on a journal failure: restart with backoff (the newest checkpoint is intact).
                    var backoff = BackoffSupervisor.Props(Backoff.OnStop(coordinator, "coordinator",
                        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), 0.2, 3));
                    run.supervisor = system.ActorOf(backoff, $"training-{options.Settings.Stage}");
                    registry.Register<TrainingCoordinator>(run.supervisor);
                });
        });
        var h = builder.Build();
        run = new TrainingRun(h);
        await h.StartAsync(ct);
        return run;
    }

    /// <summary>Ctrl+C: finish the current step, checkpoint, report Stopped.</summary>
    public void Stop() => supervisor.Tell(new TrainingCoordinator.StopTraining(Guid.NewGuid().ToString("N")));

    public async Task<TrainingState> FetchStatusAsync(TimeSpan timeout)
    {
        var status = await supervisor.Ask<TrainingCoordinator.TrainingStatus>(new TrainingCoordinator.FetchTrainingStatus("status"), timeout);
        return status.State;
    }

    public async ValueTask DisposeAsync()
    {
        try { await host.StopAsync(TimeSpan.FromSeconds(10)); }
        finally { host.Dispose(); }
    }
}
