using System.Text.Json;
using System.Threading.Channels;
using Akka.Actor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using MiniMind.Cluster.Metrics;
using static MiniMind.Actors.NodeInspector;

namespace MiniMind.Cluster.Control;

public sealed record DashboardRun(string Id, string Stage, string Status, long Step, long TotalSteps, MetricPoint? Last, IReadOnlyList<MetricPoint> Points);

public sealed record DashboardData(IReadOnlyList<DashboardRun> Runs, ClusterInfo Cluster, HealthInfo Health);

/// <summary>A run of the dashboard's run list: what the metrics database holds of it, and its status as this node
/// sees it (running here, ended, or interrupted: no end recorded and no process of this node running it).</summary>
public sealed record DashboardRunInfo(string Run, string Name, string Stage, string RunDir, JsonElement? Settings, DateTimeOffset Began,
    DateTimeOffset? Ended, long NewestStep, string Status);

/// <summary>One node of the system panel.</summary>
public sealed record SystemNode(string Address, IReadOnlyList<string> Roles, double? CpuPercent, int Cores, long? RssBytes, string? Device, string? Error);

/// <summary>An alert as the dashboard and <c>/api/alerts</c> show it.</summary>
public sealed record AlertInfo(string Run, string Kind, long Step, string Text, DateTimeOffset At);

/// <summary>
/// The dashboard (issue 14): <c>GET /</c> (and <c>/dashboard</c>) is a self-contained page (no CDN) with its script
/// <c>/dashboard.js</c>; its data comes from the run's durable history in the journal's database (<see cref="MetricsStore"/>):
/// <list type="bullet">
/// <item><c>GET /api/metrics/runs</c>: every run of the database, with its settings.</item>
/// <item><c>GET /api/metrics/history?run=R&amp;from=S&amp;to=E&amp;max=N</c>: a run's curve, every step when the range
/// holds at most N of them (default 2,000), else N buckets (means, min/max) from the raw rows or the rollups; with every
/// held-out evaluation of the range (<c>eval</c>: step, loss, perplexity, tokens).</item>
/// <item><c>GET /api/metrics/stream?run=R[&amp;run=R2…]&amp;after=S[,S2…]</c>: Server-Sent Events with only the new steps
/// (<c>rows</c>), held-out evaluations (<c>eval</c>), rewinds after a resume (<c>rewind</c>) and alerts (<c>alert</c>); each event's id is the newest step sent
/// per run, so a reconnecting client (Last-Event-ID) resumes where it stopped.</item>
/// <item><c>GET /api/alerts</c>: the active alerts; <c>GET /api/system</c>: CPU, RSS and device of every node.</item>
/// </list>
/// <c>GET /api/dashboard</c> keeps the in-memory view of this node's runs (the monitor's).
/// </summary>
public static class DashboardRoutes
{
    /// <summary>Steps a (re)connecting stream sends from the store before it asks the client to reload the history instead.</summary>
    public const int CatchUpRows = 20_000;

    static string Resource(string name)
    {
        using var stream = typeof(DashboardRoutes).Assembly.GetManifestResourceStream("MiniMind.Cluster.Control." + name)
            ?? throw new InvalidOperationException($"{name} is not embedded in MiniMind.Cluster");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    static readonly Lazy<string> Script = new(() => Resource("dashboard.js"));
    /// <summary>The page with its script inline: one request, and the token in the page's URL is all it needs.</summary>
    static readonly Lazy<string> Page = new(() =>
        Resource("dashboard.html").Replace("<script src=\"dashboard.js\"></script>", "<script>\n" + Script.Value + "\n</script>", StringComparison.Ordinal));

    public static async Task<DashboardData> DataAsync(ActorSystem system, TrainingMonitor monitor, RunRegistry runs)
    {
        var list = monitor.Runs().Select(r => new DashboardRun(r.Id, r.Stage, r.Status, r.Step, r.TotalSteps, r.Last, monitor.Points(r.Id) ?? [])).ToList();
        var (health, _) = await ActorRoutes.HealthAsync(runs);
        return new DashboardData(list, ClusterRoutes.Snapshot(system), health);
    }

    static IResult NoStore() => ControlJson.Error(404, "this node keeps no run history (no journal: the seed's or a train process's control endpoint has it)");

    public static IReadOnlyList<DashboardRunInfo> RunList(MetricsFeed feed)
    {
        var watching = feed.Alerts.Runs;
        return [.. feed.Store!.AllRuns().Select(r =>
        {
            JsonElement? settings = null;
            if (r.Settings.Length > 0)
                try { settings = JsonDocument.Parse(r.Settings).RootElement.Clone(); }
                catch (JsonException) { }
            var status = r.EndedMs is not null ? "ended" : watching.TryGetValue(r.Run, out var w) && w.Live ? "running" : "interrupted";
            return new DashboardRunInfo(r.Run, r.Name, r.Stage, r.RunDir, settings, DateTimeOffset.FromUnixTimeMilliseconds(r.BeganMs),
                r.EndedMs is { } e ? DateTimeOffset.FromUnixTimeMilliseconds(e) : null, r.NewestStep, status);
        })];
    }

    /// <summary>Points as columns (one array per field): compact for a million-step curve.</summary>
    public static object Columns(IReadOnlyList<SeriesPoint> p) => new
    {
        step = p.Select(x => x.Step),
        first = p.Select(x => x.FirstStep),
        count = p.Select(x => x.Count),
        loss = p.Select(x => x.Loss),
        lossMin = p.Select(x => x.LossMin),
        lossMax = p.Select(x => x.LossMax),
        lr = p.Select(x => x.Lr),
        gradNorm = p.Select(x => x.GradNorm),
        tokensPerSecond = p.Select(x => x.TokensPerSecond),
        lossTokensPerSecond = p.Select(x => x.LossTokensPerSecond),
        stepSeconds = p.Select(x => x.StepSeconds),
        rssBytes = p.Select(x => x.RssBytes),
        wallTimeMs = p.Select(x => x.WallTimeMs),
        // RL runs (GRPO): null where a point has no RL measurements (other stages)
        rewardMean = p.Select(x => x.Rl?.RewardMean),
        rewardStd = p.Select(x => x.Rl?.RewardStd),
        kl = p.Select(x => x.Rl?.Kl),
        completionLength = p.Select(x => x.Rl?.CompletionLength),
        clipFraction = p.Select(x => x.Rl?.ClipFraction),
        rolloutSeconds = p.Select(x => x.Rl is { } m ? m.RolloutSeconds / x.Count : (double?)null),
        rewardSeconds = p.Select(x => x.Rl is { } m ? m.RewardSeconds / x.Count : (double?)null),
    };

    /// <summary>Held-out evaluations as columns (sparse: every one of the range, never downsampled).</summary>
    public static object EvalColumns(IReadOnlyList<Actors.EvalRow> e) => new
    {
        step = e.Select(x => x.Step),
        loss = e.Select(x => x.Loss),
        perplexity = e.Select(x => x.Perplexity),
        tokens = e.Select(x => x.Tokens),
        wallTimeMs = e.Select(x => x.WallTimeMs),
    };

    public static IReadOnlyList<AlertInfo> ActiveAlerts(AlertState state) =>
        [.. state.Active.Values.OrderBy(a => a.At).Select(a => new AlertInfo(a.Run, Alert.Label(a.Kind), a.Step, a.Text, a.At))];

    public static IEndpointRouteBuilder MapDashboardRoutes(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/dashboard", () => Results.Content(Page.Value, "text/html; charset=utf-8"));
        app.MapGet("/dashboard.js", () => Results.Content(Script.Value, "text/javascript; charset=utf-8"));
        app.MapGet("/api/dashboard", async (ActorSystem system, TrainingMonitor monitor, RunRegistry runs) => ControlJson.Ok(await DataAsync(system, monitor, runs)));

        app.MapGet("/api/metrics/runs", (MetricsFeed feed) => feed.Store is null ? NoStore() : ControlJson.Ok(new { runs = RunList(feed) }));

        app.MapGet("/api/metrics/history", (string? run, long? from, long? to, int? max, MetricsFeed feed) =>
        {
            if (feed.Store is not { } store) return NoStore();
            if (string.IsNullOrEmpty(run)) return ControlJson.Error(400, "run: which run (an id from /api/metrics/runs)");
            var (first, last) = (Math.Max(1, from ?? 1), to ?? long.MaxValue);
            if (last < first) return ControlJson.Error(400, $"to {last}: before from {first}");
            var series = store.Series(run, first, last, Math.Clamp(max ?? 2000, 10, 100_000));
            return ControlJson.Ok(new { run, series.From, series.To, series.Steps, series.Every, points = Columns(series.Points), eval = EvalColumns(store.ReadEval(run, first, last)) });
        });

        app.MapGet("/api/metrics/stream", StreamAsync);

        app.MapGet("/api/alerts", (MetricsFeed feed) => ControlJson.Ok(new { alerts = ActiveAlerts(feed.Alerts) }));

        app.MapGet("/api/system", async (ActorSystem system) =>
        {
            var nodes = await ActorRoutes.InspectAsync(system, new InspectNode(Tree: false, IncludeSystem: false), cluster: true, ActorRoutes.InspectTimeout);
            return ControlJson.Ok(new
            {
                nodes = nodes.Select(n => new SystemNode(n.Address, n.Roles, n.Report?.CpuPercent, n.Report?.Cores ?? 0, n.Report?.WorkingSetBytes,
                    n.Report?.Device, n.Error)).ToList(),
            });
        });
        return app;
    }

    /// <summary>Newest step sent per run, from <c>Last-Event-ID</c> (a reconnect) or <c>?after=</c> (comma-separated, in
    /// the order of the <c>run</c> parameters; missing: 0).</summary>
    public static long[] ParseAfter(string? ids, int runs)
    {
        var after = new long[runs];
        var parts = (ids ?? "").Split(',', StringSplitOptions.TrimEntries);
        for (var i = 0; i < runs && i < parts.Length; i++)
            if (long.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0) after[i] = v;
        return after;
    }

    static async Task StreamAsync(HttpContext ctx, MetricsFeed feed)
    {
        var ct = ctx.RequestAborted;
        if (feed.Store is not { } store)
        {
            await NoStore().ExecuteAsync(ctx);
            return;
        }
        var runs = ctx.Request.Query["run"].Where(r => !string.IsNullOrEmpty(r)).Select(r => r!).Distinct().ToArray();
        if (runs.Length == 0)
        {
            await ControlJson.Error(400, "run: which run(s) to follow (ids from /api/metrics/runs)").ExecuteAsync(ctx);
            return;
        }
        var lastEventId = ctx.Request.Headers["Last-Event-ID"].ToString();
        var last = ParseAfter(lastEventId.Length > 0 ? lastEventId : ctx.Request.Query["after"].ToString(), runs.Length);
        var index = runs.Select((r, i) => (r, i)).ToDictionary(x => x.r, x => x.i, StringComparer.Ordinal);

        // Subscribe before reading the store: what is written meanwhile comes through the queue too (steps sent twice are dropped).
        var queue = Channel.CreateBounded<MetricsUpdate>(new BoundedChannelOptions(4096) { SingleReader = true });
        using var subscription = feed.Subscribe(u =>
        {
            if (index.ContainsKey(u.Run) && !queue.Writer.TryWrite(u)) queue.Writer.TryComplete();   // fell behind: the client reconnects
        });

        ctx.Response.Headers.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";

        async Task Send(string type, object data)
        {
            var id = string.Join(',', last.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            var text = $"event: {type}\nid: {id}\ndata: {JsonSerializer.Serialize(data, ControlJson.Options)}\n\n";
            await ctx.Response.WriteAsync(text, ct);
            await ctx.Response.Body.FlushAsync(ct);
        }

        async Task Rows(string run, IReadOnlyList<Actors.MetricsRow> rows)
        {
            var i = index[run];
            var fresh = rows.Where(r => r.Step > last[i]).Select(SeriesPoint.Of).ToList();
            if (fresh.Count == 0) return;
            last[i] = fresh[^1].Step;
            await Send("rows", new { run, points = Columns(fresh) });
        }

        try
        {
            await ctx.Response.WriteAsync("retry: 2000\n\n", ct);
            foreach (var run in runs)
            {
                var i = index[run];
                if (store.ReadEval(run, last[i] + 1) is { Count: > 0 } evals) await Send("eval", new { run, points = EvalColumns(evals) });
                var rows = store.Read(run, last[i] + 1, last[i] + CatchUpRows).ToList();
                if (rows.Count == CatchUpRows)
                {
                    await Send("reload", new { run });   // too far behind for a stream: the client reads the history again
                    last[i] = rows[^1].Step;
                    continue;
                }
                await Rows(run, rows);
            }
            await Send("ready", new { runs, after = last });
            while (!ct.IsCancellationRequested)
            {
                using var beat = CancellationTokenSource.CreateLinkedTokenSource(ct);
                beat.CancelAfter(TimeSpan.FromSeconds(15));
                MetricsUpdate update;
                try
                {
                    if (!await queue.Reader.WaitToReadAsync(beat.Token)) return;   // dropped for falling behind
                    update = await queue.Reader.ReadAsync(beat.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    await ctx.Response.WriteAsync(": keep-alive\n\n", ct);
                    await ctx.Response.Body.FlushAsync(ct);
                    continue;
                }
                switch (update)
                {
                    case RowsWritten r:
                        await Rows(r.Run, r.Rows);
                        break;
                    case EvalWritten e:
                        await Send("eval", new { run = e.Run, points = EvalColumns(e.Rows) });
                        break;
                    case HistoryRewound h when last[index[h.Run]] > h.AfterStep:
                        last[index[h.Run]] = h.AfterStep;
                        await Send("rewind", new { run = h.Run, after = h.AfterStep });
                        break;
                    case AlertRaised a:
                        await Send("alert", new AlertInfo(a.Alert.Run, Alert.Label(a.Alert.Kind), a.Alert.Step, a.Alert.Text, a.Alert.At));
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (IOException) { }   // the client went away
    }
}
