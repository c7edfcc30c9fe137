using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MiniMind.Actors;
using static MiniMind.Actors.NodeInspector;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Control;

/// <summary>One member's actor tree in <c>actor hierarchy</c>.</summary>
public sealed record NodeHierarchy(string Address, IReadOnlyList<string> Roles, IReadOnlyList<ActorNode> Actors);

/// <summary>A member that was not asked (unreachable, exiting, down) or did not answer.</summary>
public sealed record NodeError(string Address, IReadOnlyList<string> Roles, string Error);

/// <summary><c>GET /api/actors/hierarchy</c>: <paramref name="Address"/> and <paramref name="Actors"/> are the serving
/// node's tree (the reply's shape before the cluster view); <paramref name="Nodes"/> has one section per member that
/// answered (this node first, then by address), <paramref name="Errors"/> the members that did not;
/// <paramref name="Cluster"/>: whether the other members were asked.</summary>
public sealed record ClusterHierarchy(string Address, IReadOnlyList<ActorNode> Actors, bool Cluster, IReadOnlyList<NodeHierarchy> Nodes, IReadOnlyList<NodeError> Errors);

/// <summary>One member's row of <c>actor health</c>: its process working set and, on a worker node, its replica;
/// <paramref name="RlActors"/>: its GRPO rollout and reward actors (null: none reported).</summary>
public sealed record NodeHealth(string Address, IReadOnlyList<string> Roles, long ProcessMemoryBytes, Actors.ClusterWorker.ReplicaState? Replica, string? ReplicaError,
    IReadOnlyList<Actors.Protocol.RlActorState>? RlActors = null);

/// <summary>One row of <c>actor health</c>. <paramref name="MemoryBytes"/>: what the actor holds where known (the
/// worker's weights, gradients and AdamW moments; the batches buffered from the loader), the process's working set for
/// the coordinator; null when unknown. <paramref name="SinceLastMessage"/>: seconds since its parent last heard from it.</summary>
public sealed record ActorHealthRow(string Run, string Path, string State, int Restarts, double? SinceLastMessage, double StepRate, long? MemoryBytes);

/// <summary><c>GET /api/actors/health</c>: the training actors of the runs on this node (<paramref name="Actors"/>,
/// <paramref name="Errors"/>: coordinators that did not answer), then one row per member (<see cref="Nodes"/>) and the
/// members that did not answer (<see cref="NodeErrors"/>).</summary>
public sealed record HealthInfo(IReadOnlyList<ActorHealthRow> Actors, long ProcessMemoryBytes, IReadOnlyList<string> Errors)
{
    public IReadOnlyList<NodeHealth> Nodes { get; init; } = [];
    public IReadOnlyList<NodeError> NodeErrors { get; init; } = [];
}

/// <summary><c>GET /api/actors/hierarchy</c> (the live actor trees: /user, and /system with <c>?system=true</c>) and
/// <c>GET /api/actors/health</c> (per training actor, from each coordinator's health book; then per member: working set,
/// replica state). <c>?cluster=true</c> asks every other member's <see cref="NodeInspector"/> too, <c>?cluster=false</c>
/// only this node; the default is the whole cluster when it has more than one member.</summary>
public static class ActorRoutes
{
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a member's inspector has to answer (identify + report); members are asked in parallel.</summary>
    public static readonly TimeSpan InspectTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A member and what came of asking it: its report, or why there is none.</summary>
    public sealed record Inspected(string Address, IReadOnlyList<string> Roles, NodeReport? Report, string? Error);

    /// <summary>This node's report (computed here, no message), then, with <paramref name="cluster"/>, every other member's,
    /// asked in parallel from its <c>/user/inspector</c>: members that are unreachable or exiting/down are not asked;
    /// those that do not answer within <paramref name="timeout"/> come back with an error. Never throws for a member.</summary>
    public static async Task<IReadOnlyList<Inspected>> InspectAsync(ActorSystem system, InspectNode query, bool cluster, TimeSpan timeout)
    {
        var c = Akka.Cluster.Cluster.Get(system);
        var self = c.SelfAddress;
        var mine = ReportAsync(system, query);
        var others = new List<Task<Inspected>>();
        if (cluster)
        {
            var state = c.State;
            var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
            others.AddRange(state.Members.Concat(state.Unreachable.Where(u => !state.Members.Contains(u)))
                .Where(m => !m.Address.Equals(self))
                .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
                .Select(m => AskMemberAsync(system, m, unreachable.Contains(m.Address), query, timeout)));
        }
        return [new Inspected(self.ToString(), c.SelfRoles.OrderBy(r => r, StringComparer.Ordinal).ToList(), await mine, null), .. await Task.WhenAll(others)];
    }

    static async Task<Inspected> AskMemberAsync(ActorSystem system, Member member, bool unreachable, InspectNode query, TimeSpan timeout)
    {
        var address = member.Address.ToString();
        var roles = member.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList();
        Inspected Failed(string error) => new(address, roles, null, error);
        if (unreachable) return Failed($"unreachable ({member.Status}): not asked");
        if (member.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining or MemberStatus.Leaving))
            return Failed($"{member.Status}: not asked");
        var clock = Stopwatch.StartNew();
        try
        {
            // Identify first: a node without an inspector says so at once instead of letting the ask time out.
            var selection = system.ActorSelection(new RootActorPath(member.Address) / "user" / NodeInspector.Name);
            var identity = await selection.Ask<ActorIdentity>(new Identify(address), timeout);
            if (identity.Subject is null) return Failed($"no /user/{NodeInspector.Name} on that node");
            var left = timeout - clock.Elapsed;
            if (left <= TimeSpan.Zero) throw new AskTimeoutException("no time left after identify");
            return new Inspected(address, roles, await identity.Subject.Ask<NodeReport>(query, left), null);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return Failed($"did not answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e)   // e.g. the inspector's own failure, sent back as Status.Failure: one member must not fail the reply
        {
            return Failed($"failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The <c>?cluster=</c> switch: explicit true/false, else the whole cluster when it has more than one member.</summary>
    /// <returns>null when the parameter is neither true nor false.</returns>
    public static bool? ClusterWide(HttpRequest request, ActorSystem system)
    {
        var q = request.Query["cluster"].ToString();
        if (q.Length > 0) return bool.TryParse(q, out var v) ? v : null;
        var state = Akka.Cluster.Cluster.Get(system).State;
        return state.Members.Count + state.Unreachable.Count(u => !state.Members.Contains(u)) > 1;
    }

    static IResult BadClusterParameter(HttpRequest request) =>
        ControlJson.Error(400, $"cluster must be true or false, not '{request.Query["cluster"]}'");

    public static async Task<ClusterHierarchy> ClusterHierarchyAsync(ActorSystem system, bool includeSystem, bool cluster, TimeSpan timeout)
    {
        var inspected = await InspectAsync(system, new InspectNode(Tree: true, includeSystem), cluster, timeout);
        var mine = inspected[0].Report!.Tree!;
        return new ClusterHierarchy(mine.Address, mine.Actors, cluster,
            [.. inspected.Where(i => i.Report is not null).Select(i => new NodeHierarchy(i.Address, i.Roles, i.Report!.Tree?.Actors ?? []))],
            [.. inspected.Where(i => i.Report is null).Select(i => new NodeError(i.Address, i.Roles, i.Error!))]);
    }

    public static async Task<HealthInfo> ClusterHealthAsync(ActorSystem system, RunRegistry runs, bool cluster, TimeSpan timeout)
    {
        var inspection = InspectAsync(system, new InspectNode(Tree: false, IncludeSystem: false), cluster, timeout);
        var (info, _) = await HealthAsync(runs);
        var inspected = await inspection;
        return info with
        {
            Nodes = [.. inspected.Where(i => i.Report is not null).Select(i => new NodeHealth(i.Address, i.Roles, i.Report!.WorkingSetBytes, i.Report.Replica, i.Report.ReplicaError, i.Report.RlActors))],
            NodeErrors = [.. inspected.Where(i => i.Report is null).Select(i => new NodeError(i.Address, i.Roles, i.Error!))],
        };
    }

    /// <summary>Asks each run's coordinator for its health book and turns it into rows.</summary>
    public static async Task<(HealthInfo Info, IReadOnlyList<(ControlledRun Run, ActorHealthReport Report)> Reports)> HealthAsync(RunRegistry runs)
    {
        var rows = new List<ActorHealthRow>();
        var errors = new List<string>();
        var reports = new List<(ControlledRun, ActorHealthReport)>();
        var now = DateTimeOffset.UtcNow;
        var processMemory = Environment.WorkingSet;
        foreach (var run in runs.All)
        {
            ActorHealthReport report;
            try
            {
                report = await run.Coordinator.Ask<ActorHealthReport>(new FetchActorHealth(Guid.NewGuid().ToString("N")), AskTimeout);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                errors.Add($"{run.Id}: the coordinator did not answer within {AskTimeout.TotalSeconds:0} s");
                continue;
            }
            reports.Add((run, report));
            var worker = report.Health.Children.Values.FirstOrDefault(c => c.Name.StartsWith("worker", StringComparison.Ordinal));
            rows.Add(new ActorHealthRow(run.Id, report.Path, report.Phase, 0, 0, worker?.Rate ?? 0, processMemory));
            foreach (var child in report.Health.Children.Values)
                rows.Add(new ActorHealthRow(run.Id, $"{report.Path}/{child.Name}", report.Phase, child.Restarts,
                    child.LastMessage is { } t ? Math.Max(0, (now - t).TotalSeconds) : null, child.Rate, child.MemoryBytes > 0 ? child.MemoryBytes : null));
        }
        return (new HealthInfo(rows, processMemory, errors), reports);
    }

    public static IEndpointRouteBuilder MapActorRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/actors/hierarchy", async (HttpRequest request, ActorSystem system) =>
            ClusterWide(request, system) is { } cluster
                ? ControlJson.Ok(await ClusterHierarchyAsync(system, string.Equals(request.Query["system"], "true", StringComparison.OrdinalIgnoreCase), cluster, InspectTimeout))
                : BadClusterParameter(request));
        app.MapGet("/api/actors/health", async (HttpRequest request, ActorSystem system, RunRegistry runs) =>
            ClusterWide(request, system) is { } cluster
                ? ControlJson.Ok(await ClusterHealthAsync(system, runs, cluster, InspectTimeout))
                : BadClusterParameter(request));
        return app;
    }
}
