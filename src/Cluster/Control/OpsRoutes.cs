using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace MiniMind.Cluster.Control;

/// <summary>Everything issue 7 adds to a node's control endpoint. The handlers take the node's ActorSystem,
/// <see cref="TrainingMonitor"/> and <see cref="RunRegistry"/> from the service provider (<see cref="AddOps"/>).</summary>
public static class OpsRoutes
{
    /// <param name="feed">The node's metrics feed (the dashboard's history, live stream and alerts); without one the
    /// dashboard's data routes answer 404 (a node without a journal).</param>
    public static IServiceCollection AddOps(this IServiceCollection services, TrainingMonitor monitor, RunRegistry runs, Metrics.MetricsFeed? feed = null) =>
        services.AddSingleton(monitor).AddSingleton(runs).AddSingleton(feed ?? new Metrics.MetricsFeed(null));

    public static IEndpointRouteBuilder MapOpsRoutes(this IEndpointRouteBuilder app) =>
        app.MapClusterRoutes()
            .MapActorRoutes()
            .MapRunRoutes()
            .MapMetricsRoutes()
            .MapDashboardRoutes();
}
