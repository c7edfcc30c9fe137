using Akka.Actor;

namespace MiniMind.Cluster.Control;

/// <summary>A training run the control endpoint can steer: its coordinator (or the BackoffSupervisor in front of it,
/// which forwards every message) and where it writes.</summary>
public sealed record ControlledRun(string Id, string Stage, string RunDir, IActorRef Coordinator);

/// <summary>The runs of this node, newest last; the node adds one when it starts a stage. Thread-safe.</summary>
public sealed class RunRegistry
{
    readonly object gate = new();
    readonly List<ControlledRun> runs = [];

    public void Add(ControlledRun run)
    {
        lock (gate)
        {
            runs.RemoveAll(r => r.Id == run.Id);
            runs.Add(run);
        }
    }

    public IReadOnlyList<ControlledRun> All
    {
        get { lock (gate) return runs.ToList(); }
    }

    /// <summary>The run named <paramref name="id"/>, or the newest one when <paramref name="id"/> is null or empty.</summary>
    public ControlledRun? Find(string? id)
    {
        lock (gate)
            return string.IsNullOrEmpty(id) ? (runs.Count == 0 ? null : runs[^1]) : runs.FirstOrDefault(r => r.Id == id);
    }

    /// <summary>A run id for a new run of <paramref name="stage"/>: stage-N, unique on this node.</summary>
    public string NextId(string stage)
    {
        lock (gate)
        {
            var n = 1;
            while (runs.Any(r => r.Id == $"{stage}-{n}")) n++;
            return $"{stage}-{n}";
        }
    }
}
