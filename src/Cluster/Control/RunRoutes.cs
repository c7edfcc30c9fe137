using Akka.Actor;
using Akka.Hosting;
using MiniMind.Actors.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Control;

public sealed record CheckpointInfo(string File, long Step, string Sha256, long? Bytes, DateTimeOffset? Written);

/// <summary>
/// Runs and their steering: <c>GET /api/runs</c>; <c>POST /api/train/pause|resume|stop?run=ID</c>;
/// <c>GET /api/checkpoints?run=ID</c>, <c>POST /api/checkpoints/save?run=ID</c> (waits until the checkpoint is written
/// and journaled); <c>GET /api/log?after=SEQ&amp;limit=N</c>. Without <c>run</c>, the newest run of the node.
/// </summary>
public static class RunRoutes
{
    public static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan SaveTimeout = TimeSpan.FromMinutes(5);

    static IResult NoRun(string? id) =>
        ControlJson.Error(404, string.IsNullOrEmpty(id) ? "no training run on this node (start one with `minimind ctl train start`)" : $"no run named {id} on this node");

    /// <summary>An ended run's coordinator has stopped (the run manager stops it): steering it is a 409, not a timeout.</summary>
    static IResult? Ended(ControlledRun r, TrainingMonitor monitor) =>
        monitor.Ended(r.Id) is { } status ? ControlJson.Error(409, $"{r.Id}: the run has ended ({status}); nothing to steer") : null;

    public static IEndpointRouteBuilder MapRunRoutes(this IEndpointRouteBuilder app)
    {
        // This node's runs (live values) and every run its run manager journaled (a seed that lived for weeks; runs
        // before a restart): one list, oldest first.
        app.MapGet("/api/runs", async (TrainingMonitor monitor, IServiceProvider services, CancellationToken ct) =>
        {
            var seen = monitor.Runs();
            if (services.GetService(typeof(IRequiredActor<Nodes.RunManagerKey>)) is not IRequiredActor<Nodes.RunManagerKey> manager)
                return ControlJson.Ok(new { runs = seen });   // a control endpoint without a run manager (tests)
            RunList journaled;
            try { journaled = await manager.ActorRef.Ask<RunList>(new ListRuns(Guid.NewGuid().ToString("N")), AskTimeout, ct); }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException) { return ControlJson.Ok(new { runs = seen }); }
            var older = journaled.Runs.Where(v => seen.All(r => r.Id != v.RunId)).Select(v => new RunSummary(v.RunId, v.Stage,
                journaled.RunDirs.GetValueOrDefault(v.RunId, ""), v.State, v.Step, v.Total, v.StartedAt, null, v.Message));
            return ControlJson.Ok(new { runs = older.Concat(seen).OrderBy(r => r.Started).ToList() });
        });

        app.MapPost("/api/train/pause", async (string? run, TrainingMonitor monitor, RunRegistry runs) =>
        {
            if (runs.Find(run) is not { } r) return NoRun(run);
            if (Ended(r, monitor) is { } ended) return ended;
            var paused = await r.Coordinator.Ask<TrainingPaused>(new PauseTraining(Guid.NewGuid().ToString("N")), AskTimeout);
            monitor.SetStatus(r.Id, "paused");
            return ControlJson.Ok(new { run = r.Id, status = "paused", step = paused.Step, stepInFlight = paused.StepInFlight });
        });

        app.MapPost("/api/train/resume", async (string? run, TrainingMonitor monitor, RunRegistry runs) =>
        {
            if (runs.Find(run) is not { } r) return NoRun(run);
            if (Ended(r, monitor) is { } ended) return ended;
            var resumed = await r.Coordinator.Ask<TrainingResumed>(new ResumeTraining(Guid.NewGuid().ToString("N")), AskTimeout);
            monitor.SetStatus(r.Id, "running");
            return ControlJson.Ok(new { run = r.Id, status = "running", step = resumed.Step });
        });

        app.MapPost("/api/train/stop", (string? run, TrainingMonitor monitor, RunRegistry runs) =>
        {
            if (runs.Find(run) is not { } r) return NoRun(run);
            r.Coordinator.Tell(new StopTraining(Guid.NewGuid().ToString("N")));
            monitor.Note(r.Id, $"run {r.Id}: stop requested (finishing the current step and checkpointing)");
            return ControlJson.Ok(new { run = r.Id, status = "stopping" });
        });

        app.MapGet("/api/checkpoints", async (string? run, RunRegistry runs) =>
        {
            if (runs.Find(run) is not { } r) return NoRun(run);
            var status = await r.Coordinator.Ask<TrainingStatus>(new FetchTrainingStatus(Guid.NewGuid().ToString("N")), AskTimeout);
            var list = status.State.Checkpoints.Select(c =>
            {
                var f = new FileInfo(Path.IsPathRooted(c.File) ? c.File : Path.Combine(r.RunDir, "checkpoints", r.Stage, c.File));
                return new CheckpointInfo(c.File, c.Step, c.Sha256, f.Exists ? f.Length : null, f.Exists ? f.LastWriteTimeUtc : null);
            }).ToList();
            return ControlJson.Ok(new { run = r.Id, checkpoints = list });
        });

        app.MapPost("/api/checkpoints/save", async (string? run, TrainingMonitor monitor, RunRegistry runs) =>
        {
            if (runs.Find(run) is not { } r) return NoRun(run);
            if (Ended(r, monitor) is { } ended) return ended;
            var taken = await r.Coordinator.Ask<CheckpointTaken>(new SaveCheckpoint(Guid.NewGuid().ToString("N")), SaveTimeout);
            if (taken.Error is { } error) return ControlJson.Error(409, $"{r.Id}: {error}");
            monitor.Note(r.Id, $"run {r.Id}: checkpoint {taken.File} at step {taken.Step} (on request)");
            return ControlJson.Ok(new { run = r.Id, file = taken.File, step = taken.Step });
        });

        app.MapGet("/api/log", (long? after, int? limit, TrainingMonitor monitor) =>
            ControlJson.Ok(new { lines = monitor.LogAfter(after ?? 0, Math.Clamp(limit ?? 200, 1, 2000)) }));
        return app;
    }
}
