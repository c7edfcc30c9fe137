using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;

namespace MiniMind.Cluster.Control;

/// <summary>
/// The seed node's control endpoint: an ASP.NET Core minimal API on Kestrel inside the node's host (loopback unless
/// <c>--control</c> names another interface). <see cref="MapControlRoutes"/> is the single entry point; each route
/// family lives in its own file and adds itself here.
/// <list type="bullet">
/// <item><c>GET /alive</c>: 200 while the ActorSystem runs (Akka.Hosting liveness check).</item>
/// <item><c>GET /ready</c>: 200 once this node is Up in the cluster, 503 before.</item>
/// <item><c>POST /api/train/start</c>, <c>GET /api/train/status</c>: see <see cref="TrainRoutes"/>.</item>
/// <item><c>/api/cluster/*</c>, <c>/api/actors/*</c>, <c>/api/runs</c>, <c>/api/train/pause|resume|stop</c>, <c>/api/checkpoints</c>,
/// <c>/api/log</c>, <c>/metrics</c>, <c>/</c> (dashboard): see <see cref="OpsRoutes"/>.</item>
/// </list>
/// </summary>
public static class ControlEndpoint
{
    public static IEndpointRouteBuilder MapControlRoutes(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/alive", new HealthCheckOptions { Predicate = r => r.Tags.Contains("liveness") });
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = r => r.Tags.Contains("ready") });
        app.MapTrainRoutes();
        app.MapOpsRoutes();   // issue 7: cluster, actors, runs, metrics, dashboard (services: OpsRoutes.AddOps)
        return app;
    }
}
