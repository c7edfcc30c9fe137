using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>One actor of the tree: its path (without the address) and depth under the root guardian.</summary>
public sealed record ActorNode(string Path, int Depth);

/// <summary>One node's actor tree: its address and its actors, depth first, children by name.</summary>
public sealed record ActorHierarchy(string Address, IReadOnlyList<ActorNode> Actors);

/// <summary>
/// Every node's answer to <c>ctl actor hierarchy|health</c> for the whole cluster, at <c>/user/inspector</c> (started by
/// every cluster node). The control endpoint asks each member's inspector with <see cref="InspectNode"/> and gets a
/// <see cref="NodeReport"/>: the node's actor tree (when asked for), its process working set, on a worker node the state
/// of its <see cref="ClusterWorker"/>'s replica, and the state of every GRPO rollout and reward actor on the node
/// (<see cref="Rl.RolloutActor"/>, <see cref="Rl.RewardActor"/>: under worker-0 or a replica). Read-only: it only looks.
/// </summary>
public sealed class NodeInspector : ReceiveActor
{
    public const string Name = "inspector";

    /// <summary>How long the inspector waits for the local <see cref="ClusterWorker"/> (it answers from memory).</summary>
    public static readonly TimeSpan WorkerTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Asks for the node's report; <paramref name="Tree"/>: include the actor tree (/system too with
    /// <paramref name="IncludeSystem"/>).</summary>
    public sealed record InspectNode(bool Tree, bool IncludeSystem) : IClusterMessage;

    /// <summary>A node's report. <paramref name="Tree"/>: null unless asked for. <paramref name="Replica"/>: the worker's
    /// replica state, null on a node without <c>/user/worker</c>; <paramref name="ReplicaError"/> says why it is missing
    /// when the worker exists but did not answer.
    /// <paramref name="CpuPercent"/>: the process's CPU use since the previous report, in % of one core (200 = two cores
    /// busy); <paramref name="Cores"/>: the cores it may use; <paramref name="Device"/>: the node's training device(s), null
    /// when it computes nothing (a seed without --device). <paramref name="RlActors"/>: the node's rollout and reward
    /// actors, by path (null from a node older than them).</summary>
    public sealed record NodeReport(string Address, ActorHierarchy? Tree, long WorkingSetBytes, ClusterWorker.ReplicaState? Replica, string? ReplicaError,
        double CpuPercent = 0, int Cores = 0, string? Device = null, IReadOnlyList<RlActorState>? RlActors = null)
        : IClusterMessage;

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ActorSystem, string> Devices = new();

    /// <summary>Names the device(s) a node trains on (its host calls this at start), for its reports.</summary>
    public static void SetDevice(ActorSystem system, string? device)
    {
        if (device is not null) Devices.AddOrUpdate(system, device);
    }

    static readonly object CpuGate = new();
    static (TimeSpan Cpu, long At) cpuMark = (TimeSpan.Zero, 0);

    /// <summary>This process's CPU use (% of one core) since the previous call (the first: since the process started).</summary>
    public static double CpuPercent()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var (cpu, now) = (self.TotalProcessorTime, System.Diagnostics.Stopwatch.GetTimestamp());
        lock (CpuGate)
        {
            var wall = cpuMark.At == 0 ? DateTime.Now - self.StartTime : System.Diagnostics.Stopwatch.GetElapsedTime(cpuMark.At, now);
            var used = cpu - cpuMark.Cpu;
            cpuMark = (cpu, now);
            return wall > TimeSpan.Zero ? Math.Max(0, 100 * used.TotalSeconds / wall.TotalSeconds) : 0;
        }
    }

    public NodeInspector() =>
        Receive<InspectNode>(q => ReportAsync(Context.System, q).PipeTo(Sender));

    public static Props Props() => Akka.Actor.Props.Create(() => new NodeInspector());

    /// <summary>Walks the local tree from the user guardian (and the system guardian), depth first, children by name.</summary>
    public static ActorHierarchy Hierarchy(ActorSystem system, bool includeSystem)
    {
        var ext = (ExtendedActorSystem)system;
        var nodes = new List<ActorNode>();
        void Walk(IActorRef actor, int depth)
        {
            nodes.Add(new ActorNode(actor.Path.ToStringWithoutAddress(), depth));
            if (actor is not ActorRefWithCell withCell) return;
            foreach (var child in withCell.Children.OrderBy(c => c.Path.Name, StringComparer.Ordinal))
                Walk(child, depth + 1);
        }
        Walk(ext.Guardian, 1);
        if (includeSystem) Walk(ext.SystemGuardian, 1);
        return new ActorHierarchy(ext.Provider.DefaultAddress.ToString(), nodes);
    }

    /// <summary>This node's report (what the inspector answers; the control endpoint calls it directly for its own node).
    /// Never throws: a worker that does not answer becomes <see cref="NodeReport.ReplicaError"/>.</summary>
    public static async Task<NodeReport> ReportAsync(ActorSystem system, InspectNode query)
    {
        var ext = (ExtendedActorSystem)system;
        var tree = query.Tree ? Hierarchy(system, query.IncludeSystem) : null;
        ClusterWorker.ReplicaState? replica = null;
        string? error = null;
        var worker = ext.Guardian is ActorRefWithCell guardian ? guardian.GetSingleChild("worker") : ActorRefs.Nobody;
        if (!worker.IsNobody())
        {
            try
            {
                replica = await worker.Ask<ClusterWorker.ReplicaState>(ClusterWorker.FetchReplicaState.Instance, WorkerTimeout);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                error = $"/user/worker did not answer within {WorkerTimeout.TotalSeconds:0} s";
            }
        }
        var rl = await Task.WhenAll(RlActors(ext).Select(AskRlActorAsync));
        return new NodeReport(ext.Provider.DefaultAddress.ToString(), tree, Environment.WorkingSet, replica, error,
            CpuPercent(), Environment.ProcessorCount, Devices.TryGetValue(system, out var device) ? device : replica?.Device, rl);
    }

    /// <summary>The rollout and reward actors under /user (children of a <see cref="GpuWorker"/>), by path.</summary>
    static List<IActorRef> RlActors(ExtendedActorSystem system)
    {
        var found = new List<IActorRef>();
        void Walk(IActorRef actor)
        {
            if (actor is not ActorRefWithCell withCell) return;
            foreach (var child in withCell.Children)
            {
                if (child.Path.Name is Rl.RolloutActor.Name or Rl.RewardActor.Name) found.Add(child);
                else Walk(child);
            }
        }
        Walk(system.Guardian);
        return [.. found.OrderBy(a => a.Path.ToStringWithoutAddress(), StringComparer.Ordinal)];
    }

    /// <summary>An RL actor's state; one busy with a long rollout step (it answers between prompts) is reported as such.</summary>
    static async Task<RlActorState> AskRlActorAsync(IActorRef actor)
    {
        var path = actor.Path.ToStringWithoutAddress();
        var kind = actor.Path.Name == Rl.RolloutActor.Name ? "rollout" : "reward";
        try
        {
            return await actor.Ask<RlActorState>(FetchRlActorState.Instance, WorkerTimeout);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new RlActorState(path, kind, $"busy (did not answer within {WorkerTimeout.TotalSeconds:0} s)", 0, 0, null);
        }
    }
}
