using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace MiniMind.Cluster.Control;

/// <summary>Everything issue 7 adds to a node's control endpoint. The handlers take the node's ActorSystem,
/// <see cref="TrainingMonitor"/> and <see cref="RunRegistry"/> from the service provider (<see cref="AddOps"/>).</summary>
public static class OpsRoutes
{
    public static IServiceCollection AddOps(this IServiceCollection services, TrainingMonitor monitor, RunRegistry runs) =>
        services.AddSingleton(monitor).AddSingleton(runs);

    public static IEndpointRouteBuilder MapOpsRoutes(this IEndpointRouteBuilder app) =>
        app.MapClusterRoutes()
            .MapActorRoutes()
            .MapRunRoutes()
            .MapMetricsRoutes()
            .MapDashboardRoutes();
}
