using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json;
using MiniMind.Cluster.Control;

namespace MiniMind.Cli.Commands.Ctl;

/// <summary>
/// The pbm-like verbs of <c>minimind ctl</c> (issue 7): <c>cluster show|leave|down-unreachable|tail</c>,
/// <c>actor hierarchy|health</c>, <c>train pause|resume|stop</c>, <c>checkpoint save|list</c>, <c>run list</c>,
/// <c>log tail</c>. Each is one HTTP call to the node's control endpoint (tails stream until Ctrl+C, which exits 0).
/// Exit codes: 0 ok; 1 endpoint unreachable or server error; 2 rejected request (400/401/404/409: bad address, wrong
/// token, no such run, nothing to checkpoint).
/// </summary>
public static class CtlVerbs
{
    sealed record RunsReply(IReadOnlyList<RunSummary> Runs);
    sealed record CheckpointsReply(string Run, IReadOnlyList<CheckpointInfo> Checkpoints);
    sealed record LogReply(IReadOnlyList<LogLine> Lines);
    sealed record SteerReply(string Run, string Status, long? Step);
    sealed record SavedReply(string Run, string File, long Step);
    sealed record LeaveReply(string Leaving);
    sealed record DownReply(IReadOnlyList<string> Downed);

    static JsonSerializerOptions Json => ControlJson.Options;

    public static void AddTo(Command ctl, Command train, CliContext ctx, Option<string> host, Option<string?> token)
    {
        ctl.Subcommands.Add(Cluster(ctx, host, token));
        ctl.Subcommands.Add(Actor(ctx, host, token));
        foreach (var verb in new[] { "pause", "resume", "stop" }) train.Subcommands.Add(Steer(ctx, host, token, verb));
        ctl.Subcommands.Add(Checkpoint(ctx, host, token));
        ctl.Subcommands.Add(Run(ctx, host, token));
        ctl.Subcommands.Add(Log(ctx, host, token));
    }

    static async Task<T> Get<T>(HttpClient client, string url, CancellationToken ct)
    {
        using var response = await CtlCommand.Send(client, c => c.GetAsync(url, ct));
        if (!response.IsSuccessStatusCode) throw await CtlCommand.Failure(response, ct);
        return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new InvalidDataException($"{url}: empty reply");
    }

    static async Task<T> Post<T>(HttpClient client, string url, object? body, CancellationToken ct)
    {
        using var response = await CtlCommand.Send(client, c => c.PostAsJsonAsync(url, body ?? new { }, Json, ct));
        if (!response.IsSuccessStatusCode) throw await CtlCommand.Failure(response, ct);
        return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new InvalidDataException($"{url}: empty reply");
    }

    static void Print(CliContext ctx, IEnumerable<string> lines)
    {
        foreach (var l in lines) ctx.Out.WriteLine(l);
        ctx.Out.Flush();
    }

    static string RunQuery(string? run) => run is null ? "" : $"?run={Uri.EscapeDataString(run)}";

    static Option<string?> RunOption() => new("--run") { Description = "Run id (see `ctl run list`). Default: the newest run on the node." };

    /// <summary>True for the tails, which end on Ctrl+C/SIGTERM with exit 0 (System.CommandLine must not map that to 130).</summary>
    public static bool HandlesCtrlC(ParseResult parse) =>
        parse.CommandResult.Command.Name == "tail" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "cluster" or "log" };

    /// <summary>Sets an action that follows until Ctrl+C/SIGTERM, then ends quietly with exit 0 (for the tails).</summary>
    static void SetFollowAction(Command cmd, CliContext ctx, Func<ParseResult, CancellationToken, Task> body) =>
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var signals = StopSignals.OnEach(stop.Cancel);
            try { await body(parse, stop.Token); }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            return ExitCode.Ok;
        }));

    static Command Cluster(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var cluster = new Command("cluster", "Cluster membership, as pbm shows it.");

        var show = new Command("show", "One line per member: address | [roles] | status |  | version, then Count: N nodes.");
        show.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            Print(ctx, CtlFormat.ClusterShow(await Get<ClusterInfo>(client, "api/cluster/members", ct)));
            return ExitCode.Ok;
        }));

        var address = new Argument<string>("address") { Description = "The member's address, e.g. akka.tcp://minimind@10.0.0.2:4053 (see `cluster show`)." };
        var leave = new Command("leave", "Ask a member to leave the cluster gracefully (its work goes to the others).") { address };
        leave.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var reply = await Post<LeaveReply>(client, "api/cluster/leave", new ClusterRoutes.LeaveRequest(parse.GetValue(address)), ct);
            ctx.Out.WriteLine($"leaving: {reply.Leaving}");
            return ExitCode.Ok;
        }));

        var down = new Command("down-unreachable", "Down every member the failure detector marks unreachable.");
        down.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var reply = await Post<DownReply>(client, "api/cluster/down-unreachable", null, ct);
            Print(ctx, reply.Downed.Count == 0 ? ["no unreachable members"] : reply.Downed.Select(a => $"downed: {a}"));
            return ExitCode.Ok;
        }));

        var tail = new Command("tail", "Stream membership and reachability events (the current members first) until Ctrl+C.");
        SetFollowAction(tail, ctx, async (parse, ct) =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            client.Timeout = Timeout.InfiniteTimeSpan;
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/cluster/events");
            using var response = await CtlCommand.Send(client, c => c.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct));
            if (!response.IsSuccessStatusCode) throw await CtlCommand.Failure(response, ct);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var e = JsonSerializer.Deserialize<ClusterEventInfo>(line["data: ".Length..], Json)!;
                ctx.Out.WriteLine(CtlFormat.ClusterEvent(e));
                ctx.Out.Flush();
            }
        });

        cluster.Subcommands.Add(show);
        cluster.Subcommands.Add(leave);
        cluster.Subcommands.Add(down);
        cluster.Subcommands.Add(tail);
        return cluster;
    }

    static Command Actor(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var actor = new Command("actor", "The actors of every cluster member (or of this node with --local).");
        var system = new Option<bool>("--system") { Description = "Also show the /system tree (Akka's own actors)." };
        Option<bool> Local() => new("--local") { Description = "Only the node serving the control endpoint (default: every member, when the cluster has more than one)." };
        var hierarchyLocal = Local();
        var hierarchy = new Command("hierarchy", "The actor tree of each member with full paths (a run's coordinator, data-loader, worker, aggregator, checkpoint writer; a worker node's /user/worker and replica); members that did not answer are listed as errors.") { system, hierarchyLocal };
        hierarchy.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var query = new List<string>();
            if (parse.GetValue(system)) query.Add("system=true");
            if (parse.GetValue(hierarchyLocal)) query.Add("cluster=false");
            var url = "api/actors/hierarchy" + (query.Count > 0 ? "?" + string.Join("&", query) : "");
            Print(ctx, CtlFormat.Hierarchy(await Get<ClusterHierarchy>(client, url, ct)));
            return ExitCode.Ok;
        }));
        var healthLocal = Local();
        var health = new Command("health", "Per training actor: state, restarts, time since its last message, step rate, memory; then per member: memory, device, replica state, step, queued work.") { healthLocal };
        health.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            Print(ctx, CtlFormat.Health(await Get<HealthInfo>(client, "api/actors/health" + (parse.GetValue(healthLocal) ? "?cluster=false" : ""), ct)));
            return ExitCode.Ok;
        }));
        actor.Subcommands.Add(hierarchy);
        actor.Subcommands.Add(health);
        return actor;
    }

    static Command Steer(CliContext ctx, Option<string> host, Option<string?> token, string verb)
    {
        var run = RunOption();
        var description = verb switch
        {
            "pause" => "Pause a run after the step in flight (model and actors stay; `train resume` continues).",
            "resume" => "Resume a paused run.",
            _ => "Stop a run: finish the current step, write a checkpoint, end (re-run `train start` with the same flags to resume).",
        };
        var cmd = new Command(verb, description) { run };
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var reply = await Post<SteerReply>(client, $"api/train/{verb}{RunQuery(parse.GetValue(run))}", null, ct);
            ctx.Out.WriteLine($"run {reply.Run}: {reply.Status}{(reply.Step is { } s ? $" at step {s}" : "")}");
            return ExitCode.Ok;
        }));
        return cmd;
    }

    static Command Checkpoint(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var checkpoint = new Command("checkpoint", "A run's checkpoints.");
        var run = RunOption();
        var save = new Command("save", "Write a checkpoint after the current step (now, when paused); prints its file and step once it is journaled.") { run };
        save.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            client.Timeout = TimeSpan.FromMinutes(6);
            var reply = await Post<SavedReply>(client, "api/checkpoints/save" + RunQuery(parse.GetValue(run)), null, ct);
            ctx.Out.WriteLine($"run {reply.Run}: checkpoint {reply.File} at step {reply.Step}");
            return ExitCode.Ok;
        }));
        var listRun = RunOption();
        var list = new Command("list", "The run's usable checkpoints, oldest first (step, file, size, time, sha256).") { listRun };
        list.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var reply = await Get<CheckpointsReply>(client, "api/checkpoints" + RunQuery(parse.GetValue(listRun)), ct);
            Print(ctx, CtlFormat.Checkpoints(reply.Run, reply.Checkpoints));
            return ExitCode.Ok;
        }));
        checkpoint.Subcommands.Add(save);
        checkpoint.Subcommands.Add(list);
        return checkpoint;
    }

    static Command Run(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var run = new Command("run", "Training runs of the node.");
        var list = new Command("list", "Every run since the node started: id, stage, status, step, loss, lr, tokens/s.");
        list.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            Print(ctx, CtlFormat.Runs((await Get<RunsReply>(client, "api/runs", ct)).Runs));
            return ExitCode.Ok;
        }));
        run.Subcommands.Add(list);
        return run;
    }

    static Command Log(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var log = new Command("log", "The node's training log.");
        var lines = new Option<int>("--lines", "-n") { Description = "Lines of history to print first. Default: 20.", DefaultValueFactory = _ => 20 };
        var noFollow = new Option<bool>("--no-follow") { Description = "Print the history and exit instead of following new lines." };
        var tail = new Command("tail", "Print the newest log lines, then follow new ones until Ctrl+C.") { lines, noFollow };
        SetFollowAction(tail, ctx, async (parse, ct) =>
        {
            using var client = CtlCommand.Client(parse, host, token);
            var first = await Get<LogReply>(client, $"api/log?after=0&limit={Math.Clamp(parse.GetValue(lines), 1, 2000)}", ct);
            Print(ctx, first.Lines.Select(CtlFormat.Log));
            if (parse.GetValue(noFollow)) return;
            var seq = first.Lines.Count == 0 ? 0 : first.Lines[^1].Seq;
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                var next = await Get<LogReply>(client, $"api/log?after={seq}&limit=2000", ct);
                Print(ctx, next.Lines.Select(CtlFormat.Log));
                if (next.Lines.Count > 0) seq = next.Lines[^1].Seq;
            }
        });
        log.Subcommands.Add(tail);
        return log;
    }
}
