using Microsoft.Extensions.Logging;
using MiniMind.Actors;
using MiniMind.Cluster.Security;

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
    /// <summary>Cluster certificates (TLS on every port, peers authenticated against the cluster CA) or <c>--insecure</c>
    /// (issue 18). Default: neither, which only a loopback node may use.</summary>
    public NodeSecurity Security { get; init; } = NodeSecurity.None;
    /// <summary>Seed: the journal of the run manager and of every run's coordinator.</summary>
    public JournalSpec? Journal { get; init; }
    /// <summary>Seed: the run manager's persistence id (a seed owns its journal; a <c>train</c> process owns its run dir's).</summary>
    public string RunManagerPersistenceId { get; init; } = RunIdentity.SeedRunManagerPersistenceId;
    /// <summary>Seed: recovery restarts an unfinished run (a <c>train</c> process waits for its own command instead).</summary>
    public bool ResumeRunsOnRecovery { get; init; } = true;
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
    /// <summary>The alert rules of this node's metrics recorder (<c>--alert-loss-spike</c>, <c>--alert-stall</c>).</summary>
    public Metrics.AlertRules Alerts { get; init; } = Metrics.AlertRules.Default;

    public bool IsSeed => Seed is null;

    /// <summary><c>minimind train</c>: a cluster of one on loopback (any free ports) with the run dir's run manager, a
    /// worker on the run's device, and the control endpoint at <paramref name="control"/> (null: none).</summary>
    public static NodeOptions ForTraining(TrainingSettings s, JournalSpec journal, string? control = null, string? controlToken = null) => new()
    {
        Journal = journal,
        RunManagerPersistenceId = RunIdentity.LocalRunManagerPersistenceId(s.RunDir),
        ResumeRunsOnRecovery = false,
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
