using System.Text.Json;
using Akka.Actor;
using MiniMind.Actors;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Metrics;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>The dashboard's data routes over a real Kestrel and a SQLite metrics store: the run list, a run's history (per
/// step or bucketed), and the live stream that sends only new steps, rewinds and alerts, and resumes from Last-Event-ID;
/// a GRPO run's RL values per point in both (null for the other stages).</summary>
public class DashboardRoutesTests
{
    const string Run = "minimind-train-pretrain-dash";

    static (MetricsStore Store, MetricsFeed Feed) Feed()
    {
        var store = new MetricsStore(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("dash-routes"), "j.db"), "."));
        return (store, new MetricsFeed(store));
    }

    [Fact]
    public async Task The_run_list_and_a_history_come_from_the_store_per_step_or_bucketed()
    {
        var (store, feed) = Feed();
        store.Began(Run, "pretrain", "pretrain", "/runs/a", """{"LearningRate":0.0005,"BatchSize":2}""", DateTimeOffset.UtcNow);
        store.Upsert(Run, [.. Enumerable.Range(1, 300).Select(s => Metrics.MetricsStoreTests.Row(s, 10.0 / s))],
            [.. new[] { 50L, 100, 150, 200, 250, 300 }.Select(s => new EvalRow(s, 20.0 / s, Math.Exp(20.0 / s), 64, 0))]);
        using var system = ActorSystem.Create("dash-routes");
        await using var ctl = await ControlTestHost.StartAsync(system, new TrainingMonitor(), new RunRegistry(), feed: feed);

        var run = Assert.Single((await ctl.GetJsonAsync("/api/metrics/runs")).GetProperty("runs").EnumerateArray());
        Assert.Equal(Run, run.GetProperty("run").GetString());
        Assert.Equal(300, run.GetProperty("newestStep").GetInt64());
        Assert.Equal("interrupted", run.GetProperty("status").GetString());   // no end noted and no recorder of this node follows it
        Assert.Equal(0.0005, run.GetProperty("settings").GetProperty("LearningRate").GetDouble());

        var all = await ctl.GetJsonAsync($"/api/metrics/history?run={Run}");
        Assert.Equal(1, all.GetProperty("every").GetInt64());
        Assert.Equal(Enumerable.Range(1, 300).Select(s => (long)s), all.GetProperty("points").GetProperty("step").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(10.0 / 7, all.GetProperty("points").GetProperty("loss")[6].GetDouble());
        Assert.Equal([50L, 100, 150, 200, 250, 300], all.GetProperty("eval").GetProperty("step").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(Math.Exp(20.0 / 300), all.GetProperty("eval").GetProperty("perplexity")[5].GetDouble());
        var coarse = await ctl.GetJsonAsync($"/api/metrics/history?run={Run}&max=30");
        Assert.Equal(30, coarse.GetProperty("points").GetProperty("step").GetArrayLength());
        Assert.Equal(6, coarse.GetProperty("eval").GetProperty("step").GetArrayLength());   // sparse: never bucketed
        Assert.Equal(10.0, coarse.GetProperty("points").GetProperty("lossMax")[0].GetDouble());
        var zoom = await ctl.GetJsonAsync($"/api/metrics/history?run={Run}&from=41&to=60&max=30");
        Assert.Equal(Enumerable.Range(41, 20).Select(s => (long)s), zoom.GetProperty("points").GetProperty("step").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([50L], zoom.GetProperty("eval").GetProperty("step").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(0.4, zoom.GetProperty("eval").GetProperty("loss")[0].GetDouble());

        using var bad = await ctl.Http.GetAsync($"/api/metrics/history?run={Run}&from=9&to=3");
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("to 3", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_journal_the_data_routes_say_so()
    {
        using var system = ActorSystem.Create("dash-nostore");
        await using var ctl = await ControlTestHost.StartAsync(system, new TrainingMonitor(), new RunRegistry());
        using var res = await ctl.Http.GetAsync("/api/metrics/runs");
        Assert.Equal(404, (int)res.StatusCode);
        Assert.Contains("no journal", await res.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    sealed record Event(string Type, string Id, JsonElement Data);

    /// <summary>A Server-Sent Events reader over a streamed response.</summary>
    sealed class Sse(StreamReader reader) : IDisposable
    {
        public async Task<Event> Next(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            string? type = null, id = null, data = null;
            while (true)
            {
                var line = await reader.ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("the stream ended");
                if (line.Length == 0)
                {
                    if (type is not null && data is not null) return new Event(type, id ?? "", JsonDocument.Parse(data).RootElement.Clone());
                    continue;
                }
                if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line[7..];
                else if (line.StartsWith("id: ", StringComparison.Ordinal)) id = line[4..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
            }
        }

        public void Dispose() => reader.Dispose();
    }

    static async Task<Sse> Open(ControlTestHost ctl, string path, string? lastEventId = null)
    {
        var req = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null) req.Headers.Add("Last-Event-ID", lastEventId);
        var res = await ctl.Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", res.Content.Headers.ContentType?.MediaType);
        return new Sse(new StreamReader(await res.Content.ReadAsStreamAsync()));
    }

    static long[] Steps(Event e) => [.. e.Data.GetProperty("points").GetProperty("step").EnumerateArray().Select(x => x.GetInt64())];

    [Fact]
    public async Task The_stream_sends_only_new_steps_rewinds_and_alerts_and_a_reconnect_resumes_after_its_last_event()
    {
        var (store, feed) = Feed();
        store.Upsert(Run, [.. Enumerable.Range(1, 10).Select(s => Metrics.MetricsStoreTests.Row(s, 1))]);
        using var system = ActorSystem.Create("dash-stream");
        await using var ctl = await ControlTestHost.StartAsync(system, new TrainingMonitor(), new RunRegistry(), feed: feed);
        var patience = TimeSpan.FromSeconds(30);

        using (var sse = await Open(ctl, $"/api/metrics/stream?run={Run}&after=8"))
        {
            var catchUp = await sse.Next(patience);
            Assert.Equal(("rows", "10"), (catchUp.Type, catchUp.Id));
            Assert.Equal([9L, 10], Steps(catchUp));                          // only what the client lacks
            Assert.Equal("ready", (await sse.Next(patience)).Type);

            // the recorder writes 11-12 (and repeats 10: not sent again), then a resume rewinds to 11 and redoes 12
            var rows = Enumerable.Range(10, 3).Select(s => Metrics.MetricsStoreTests.Row(s, 2)).ToList();
            store.Upsert(Run, rows);
            feed.Publish(new RowsWritten(Run, rows));
            var live = await sse.Next(patience);
            Assert.Equal([11L, 12], Steps(live));
            Assert.Equal("12", live.Id);
            feed.Publish(new HistoryRewound(Run, 11));
            var rewind = await sse.Next(patience);
            Assert.Equal(("rewind", 11L, "11"), (rewind.Type, rewind.Data.GetProperty("after").GetInt64(), rewind.Id));
            feed.Publish(new RowsWritten(Run, [Metrics.MetricsStoreTests.Row(12, 3)]));
            var redone = await sse.Next(patience);
            Assert.Equal([12L], Steps(redone));
            Assert.Equal(3, redone.Data.GetProperty("points").GetProperty("loss")[0].GetDouble());
            feed.Publish(new EvalWritten(Run, [new EvalRow(12, 2.5, Math.Exp(2.5), 64, 0)]));
            var eval = await sse.Next(patience);
            Assert.Equal(("eval", 12L, 2.5), (eval.Type, eval.Data.GetProperty("points").GetProperty("step")[0].GetInt64(),
                eval.Data.GetProperty("points").GetProperty("loss")[0].GetDouble()));
            feed.Publish(new RowsWritten("another-run", [Metrics.MetricsStoreTests.Row(1, 3)]));   // not followed: nothing
            feed.Publish(new AlertRaised(new Alert(Run, AlertKind.LossSpike, 12, "loss 30 > 3×EMA 2", DateTimeOffset.UtcNow)));
            var alert = await sse.Next(patience);
            Assert.Equal(("alert", "loss_spike", 12L), (alert.Type, alert.Data.GetProperty("kind").GetString(), alert.Data.GetProperty("step").GetInt64()));
        }

        // a reconnect with the last event's id gets the evaluations and steps written since, once
        store.Upsert(Run, [.. Enumerable.Range(13, 3).Select(s => Metrics.MetricsStoreTests.Row(s, 4))], [new EvalRow(12, 2.5, Math.Exp(2.5), 64, 0), new EvalRow(15, 2, Math.Exp(2), 64, 0)]);
        using var again = await Open(ctl, $"/api/metrics/stream?run={Run}&after=1", lastEventId: "12");
        var evals = await again.Next(patience);
        Assert.Equal(("eval", 15L), (evals.Type, Assert.Single(evals.Data.GetProperty("points").GetProperty("step").EnumerateArray()).GetInt64()));
        var resumed = await again.Next(patience);
        Assert.Equal([13L, 14, 15], Steps(resumed));
    }

    static RlMetrics Rl(long step) => new(6, 0.5 * step, 1.25 * step, 40 + step, 0.003 * step, 0.25 * step, 1.5 + step, 0.01 * step);

    static MetricsRow RlRow(long step) => Metrics.MetricsStoreTests.Row(step, 1.0 / step) with { Rl = Rl(step) };

    /// <summary>The RL columns of the history and the stream, as the page reads them, with the value each carries.</summary>
    static readonly (string Key, Func<RlMetrics, double> Of)[] RlColumns =
    [
        ("rewardMean", m => m.RewardMean), ("rewardStd", m => m.RewardStd), ("kl", m => m.Kl), ("completionLength", m => m.CompletionLength),
        ("clipFraction", m => m.ClipFraction), ("rolloutSeconds", m => m.RolloutSeconds), ("rewardSeconds", m => m.RewardSeconds),
    ];

    static void AssertRl(JsonElement points, IEnumerable<long> steps)
    {
        foreach (var (key, of) in RlColumns)
            Assert.Equal(steps.Select(s => of(Rl(s))), points.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()));
    }

    static void AssertNoRl(JsonElement points)
    {
        foreach (var (key, _) in RlColumns)
            Assert.All(points.GetProperty(key).EnumerateArray(), e => Assert.Equal(JsonValueKind.Null, e.ValueKind));
    }

    [Fact]
    public async Task Rl_values_come_per_point_in_the_history_and_the_live_stream_and_are_null_for_the_other_stages()
    {
        const string grpo = "minimind-train-grpo-dash";
        var (store, feed) = Feed();
        store.Upsert(grpo, [.. Enumerable.Range(1, 3).Select(s => RlRow(s))]);
        store.Upsert(Run, [.. Enumerable.Range(1, 3).Select(s => Metrics.MetricsStoreTests.Row(s, 2))]);
        using var system = ActorSystem.Create("dash-rl");
        await using var ctl = await ControlTestHost.StartAsync(system, new TrainingMonitor(), new RunRegistry(), feed: feed);
        var patience = TimeSpan.FromSeconds(30);

        AssertRl((await ctl.GetJsonAsync($"/api/metrics/history?run={grpo}")).GetProperty("points"), [1, 2, 3]);
        AssertNoRl((await ctl.GetJsonAsync($"/api/metrics/history?run={Run}")).GetProperty("points"));

        using var sse = await Open(ctl, $"/api/metrics/stream?run={grpo}&run={Run}&after=2,2");
        var catchUp = await sse.Next(patience);
        Assert.Equal(("rows", grpo), (catchUp.Type, catchUp.Data.GetProperty("run").GetString()));
        AssertRl(catchUp.Data.GetProperty("points"), [3]);
        var plain = await sse.Next(patience);
        Assert.Equal(("rows", Run), (plain.Type, plain.Data.GetProperty("run").GetString()));
        Assert.Equal([3L], Steps(plain));
        AssertNoRl(plain.Data.GetProperty("points"));
        Assert.Equal("ready", (await sse.Next(patience)).Type);

        var rows = new List<MetricsRow> { RlRow(4), RlRow(5) };   // what the recorder publishes after writing them
        store.Upsert(grpo, rows);
        feed.Publish(new RowsWritten(grpo, rows));
        var live = await sse.Next(patience);
        Assert.Equal([4L, 5], Steps(live));
        AssertRl(live.Data.GetProperty("points"), [4, 5]);
    }
}
