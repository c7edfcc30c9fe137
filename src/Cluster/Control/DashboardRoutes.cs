using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace MiniMind.Cluster.Control;

public sealed record DashboardRun(string Id, string Stage, string Status, long Step, long TotalSteps, MetricPoint? Last, IReadOnlyList<MetricPoint> Points);

public sealed record DashboardData(IReadOnlyList<DashboardRun> Runs, ClusterInfo Cluster, HealthInfo Health);

/// <summary><c>GET /</c> (and <c>/dashboard</c>): a self-contained page (no CDN) that polls <c>GET /api/dashboard</c> every
/// second and draws loss, lr and tokens/s per run on canvases, with the cluster members and the actor health tables.
/// Each canvas records how many points it drew in <c>data-points</c> (the browser test reads it).</summary>
public static class DashboardRoutes
{
    static readonly Lazy<string> Page = new(() =>
    {
        using var stream = typeof(DashboardRoutes).Assembly.GetManifestResourceStream("MiniMind.Cluster.Control.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is not embedded in MiniMind.Cluster");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static async Task<DashboardData> DataAsync(ActorSystem system, TrainingMonitor monitor, RunRegistry runs)
    {
        var list = monitor.Runs().Select(r => new DashboardRun(r.Id, r.Stage, r.Status, r.Step, r.TotalSteps, r.Last, monitor.Points(r.Id) ?? [])).ToList();
        var (health, _) = await ActorRoutes.HealthAsync(runs);
        return new DashboardData(list, ClusterRoutes.Snapshot(system), health);
    }

    public static IEndpointRouteBuilder MapDashboardRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/dashboard", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/api/dashboard", async (ActorSystem system, TrainingMonitor monitor, RunRegistry runs) => ControlJson.Ok(await DataAsync(system, monitor, runs)));
        return app;
    }
}
