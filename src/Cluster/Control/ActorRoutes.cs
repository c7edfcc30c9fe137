using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MiniMind.Actors;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Control;

/// <summary>One actor of the tree: its path (without the address) and depth under the root guardian.</summary>
public sealed record ActorNode(string Path, int Depth);

public sealed record ActorHierarchy(string Address, IReadOnlyList<ActorNode> Actors);

/// <summary>One row of <c>actor health</c>. <paramref name="MemoryBytes"/>: what the actor holds where known (the
/// worker's weights, gradients and AdamW moments; the batches buffered from the loader), the process's working set for
/// the coordinator; null when unknown. <paramref name="SinceLastMessage"/>: seconds since its parent last heard from it.</summary>
public sealed record ActorHealthRow(string Run, string Path, string State, int Restarts, double? SinceLastMessage, double StepRate, long? MemoryBytes);

public sealed record HealthInfo(IReadOnlyList<ActorHealthRow> Actors, long ProcessMemoryBytes, IReadOnlyList<string> Errors);

/// <summary><c>GET /api/actors/hierarchy</c> (the live actor tree of this node: /user, and /system with
/// <c>?system=true</c>) and <c>GET /api/actors/health</c> (per training actor, from each coordinator's health book).</summary>
public static class ActorRoutes
{
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

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
        app.MapGet("/api/actors/hierarchy", (HttpRequest request, ActorSystem system) =>
            ControlJson.Ok(Hierarchy(system, string.Equals(request.Query["system"], "true", StringComparison.OrdinalIgnoreCase))));
        app.MapGet("/api/actors/health", async (RunRegistry runs) => ControlJson.Ok((await HealthAsync(runs)).Info));
        return app;
    }
}
