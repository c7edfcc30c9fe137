using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Actors.Stages;
using MiniMind.Cluster.Nodes;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Control;

/// <summary>
/// Training over the cluster.
/// <list type="bullet">
/// <item><c>POST /api/train/start</c> body: a <see cref="TrainRequest"/>, e.g. <c>{"stage":"pretrain","maxSteps":8,
/// "runDir":"runs/a"}</c> (the fields are the flags of <c>minimind train &lt;stage&gt;</c>, camelCase; resolved on this node)
/// → 200 <c>{"runId":"…"}</c>; 400 <c>{"error":…}</c> naming a bad field or file; 409 when a run is still active.</item>
/// <item><c>GET /api/train/status[?run=&lt;id&gt;]</c> → 200 <see cref="TrainStatus"/> (the newest run without <c>run</c>);
/// 404 when there is no such run.</item>
/// </list>
/// </summary>
public static class TrainRoutes
{
    public sealed record StartResponse(string RunId);
    public sealed record ErrorResponse(string Error);

    /// <summary>The status JSON (camelCase): state is running, completed, failed or stopped; outcome is null while running;
    /// events are the newest membership/run notices of the node (worker joined/left, micro-batches reassigned, …).</summary>
    public sealed record TrainStatus(string RunId, string Stage, string State, long Step, long Total, double? Loss, double Lr,
        double TokensPerSecond, string? Outcome, string? Message, string? OutputFile, DateTimeOffset StartedAt, int Workers,
        IReadOnlyList<string> WorkerNodes, IReadOnlyList<string> Events, double LossTokensPerSecond, string? Failure = null);

    static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    public static IEndpointRouteBuilder MapTrainRoutes(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/train/start", async (HttpRequest http, IRequiredActor<RunManagerKey> runs, TrainRequests requests, CancellationToken ct) =>
        {
            TrainRequest request;
            TrainingSettings settings;
            try
            {
                using var reader = new StreamReader(http.Body);
                request = TrainRequest.FromJson(await reader.ReadToEndAsync(ct));
                if (string.IsNullOrWhiteSpace(request.Stage)) return Results.BadRequest(new ErrorResponse("\"stage\" is required (pretrain, sft, lora, dpo, reason or distill)"));
                settings = requests.Resolve(request);
            }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or FormatException or IOException)
            {
                return Results.BadRequest(new ErrorResponse(e is FileNotFoundException f && f.FileName is not null ? $"file not found: {f.FileName}" : e.Message));
            }
            var reply = await runs.ActorRef.Ask<object>(new StartRun(request.Stage, settings.ToJson()), AskTimeout, ct);
            return reply switch
            {
                RunAccepted a => Results.Ok(new StartResponse(a.RunId)),
                RunRejected r => Results.Conflict(new ErrorResponse(r.Reason)),
                _ => Results.Problem($"unexpected reply {reply.GetType().Name}"),
            };
        });

        app.MapGet("/api/train/status", async (string? run, IRequiredActor<RunManagerKey> runs, CancellationToken ct) =>
        {
            var reply = await runs.ActorRef.Ask<RunStatusReply>(new GetRunStatus(run), AskTimeout, ct);
            if (reply.Run is not { } v) return Results.NotFound(new ErrorResponse(run is null ? "no run has been started" : $"no run {run}"));
            return Results.Ok(new TrainStatus(v.RunId, v.Stage, v.State, v.Step, v.Total, v.Loss, v.Lr, v.TokensPerSecond, v.Outcome, v.Message,
                v.OutputFile, v.StartedAt, v.Workers, reply.Workers, reply.Events, v.LossTokensPerSecond,
                v.Failure == FailureKind.None ? null : JsonNamingPolicy.SnakeCaseLower.ConvertName(v.Failure.ToString())));
        });
        return app;
    }
}
