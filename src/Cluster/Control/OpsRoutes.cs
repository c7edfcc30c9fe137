using Akka.Actor;
using Microsoft.AspNetCore.Routing;

namespace MiniMind.Cluster.Control;

/// <summary>Everything issue 7 adds to a node's control endpoint, in one call.</summary>
public static class OpsRoutes
{
    public static IEndpointRouteBuilder MapOpsRoutes(this IEndpointRouteBuilder app, ActorSystem system, TrainingMonitor monitor, RunRegistry runs) =>
        app.MapClusterRoutes(system)
            .MapActorRoutes(system, runs)
            .MapRunRoutes(monitor, runs)
            .MapMetricsRoutes(system, monitor, runs)
            .MapDashboardRoutes(system, monitor, runs);
}
