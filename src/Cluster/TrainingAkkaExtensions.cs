using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;

namespace MiniMind.Cluster;

/// <summary>Akka.Hosting wiring, one extension per concern, shared by the CLI and the tests.</summary>
public static class TrainingAkkaExtensions
{
    /// <summary>The embedded default: a one-member cluster on loopback that joins itself (port 0 = any free port).</summary>
    public static AkkaConfigurationBuilder WithTrainingCluster(this AkkaConfigurationBuilder builder, int port = 0, string host = "127.0.0.1") =>
        builder
            .WithRemoting(new RemoteOptions { HostName = host, Port = port, MaxFrameSize = GradientChunk.MaxBytes + 64 * 1024 })
            .WithClustering(new ClusterOptions { Roles = ["trainer"] })
            .AddStartup((system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                cluster.Join(cluster.SelfAddress);   // seed = self
            });

    /// <summary>The journal (and snapshot store) on SQLite or PostgreSQL through Akka.Persistence.Sql; tables are auto-created.</summary>
    public static AkkaConfigurationBuilder WithTrainingPersistence(this AkkaConfigurationBuilder builder, JournalSpec journal) =>
        builder.WithSqlPersistence(journal.ConnectionString, journal.Provider, autoInitialize: true);

    /// <summary>Events and cluster messages through <see cref="TrainingSerializer"/>; with <paramref name="strict"/>,
    /// anything without a binding fails instead of silently falling back to JSON.</summary>
    public static AkkaConfigurationBuilder WithTrainingSerialization(this AkkaConfigurationBuilder builder, bool strict = true)
    {
        builder.WithCustomSerializer("minimind-training", [typeof(ITrainingEvent), typeof(IClusterMessage)], system => new TrainingSerializer(system));
        if (strict) builder.WithStrictSerialization();
        return builder;
    }

    /// <summary>A dedicated thread per worker: tensor work stays on one OS thread (torch threads and dispose scopes are per thread).</summary>
    public static AkkaConfigurationBuilder WithWorkerDispatcher(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon($"{GpuWorker.DispatcherId} {{ type = PinnedDispatcher }}", HoconAddMode.Prepend);

    /// <summary>The host owns shutdown: Akka must not run CoordinatedShutdown on its own when the process gets SIGTERM or
    /// exits. On .NET 6+ its CLR hook registers a SIGTERM handler of its own, which tore the actor system down in the middle
    /// of the CLI's graceful drain (the run never reported Finished: a hang). The CLI stops the run on Ctrl+C/SIGTERM, then
    /// stops the host, which runs CoordinatedShutdown once.</summary>
    public static AkkaConfigurationBuilder WithHostOwnedShutdown(this AkkaConfigurationBuilder builder) =>
        builder.AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend);

    /// <summary>Akka's log through Microsoft.Extensions.Logging.</summary>
    public static AkkaConfigurationBuilder WithTrainingLogging(this AkkaConfigurationBuilder builder, Akka.Event.LogLevel level) =>
        builder.ConfigureLoggers(l =>
        {
            l.LogLevel = level;
            l.ClearLoggers();
            l.AddLoggerFactory();
        });
}
