using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using MiniMind.Actors;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Nodes;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests.Control;

public class OpsRoutesTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    static Task Until(Func<Task<bool>> condition, string what) => Poll.Until(condition, Patience, what);

    static long RunStep(JsonElement runs) => runs.GetProperty("runs")[0].GetProperty("step").GetInt64();

    [Fact]
    public async Task Control_routes_pause_checkpoint_resume_and_stop_a_run_and_report_its_actors_and_metrics()
    {
        var dir = TestRuns.TempRunDir("ctl-routes");
        var progressed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The node `minimind train --control` runs. A worker fault at step 3 (restarted by the coordinator's supervisor,
        // counted in actor health and /metrics).
        var settings = TestRuns.Tiny(dir, steps: 400, saveInterval: 1000);
        await using var node = await NodeHost.StartAsync(NodeOptions.ForTraining(settings, JournalSpec.Parse("sqlite", dir), "127.0.0.1:0") with
        {
            Hooks = new NodeTestHooks { Faults = new FaultPlan(3) },
        });
        var run = await node.TrainAsync(settings, r =>
        {
            if (r.Report is TrainingProgress { Step: >= 6 }) progressed.TrySetResult();
        });
        var id = run.RunId!;
        await using var ctl = ControlTestHost.Of(node.ControlUrl!);
        await progressed.Task.WaitAsync(Patience);

        // pause: the step count stops moving
        var paused = await ctl.PostJsonAsync("/api/train/pause");
        Assert.Equal("paused", paused.GetProperty("status").GetString());
        var pausedAt = paused.GetProperty("step").GetInt64();   // the step in flight included
        await Until(async () => RunStep(await ctl.GetJsonAsync("/api/runs")) == pausedAt, "the step in flight to finish");
        await Task.Delay(1000);
        Assert.Equal(pausedAt, RunStep(await ctl.GetJsonAsync("/api/runs")));
        Assert.Equal("paused", (await ctl.GetJsonAsync("/api/runs")).GetProperty("runs")[0].GetProperty("status").GetString());

        // checkpoint on demand while paused: written at the paused step, journaled, listed
        var saved = await ctl.PostJsonAsync("/api/checkpoints/save");
        Assert.Equal(pausedAt, saved.GetProperty("step").GetInt64());
        var file = saved.GetProperty("file").GetString()!;
        Assert.True(File.Exists(Path.Combine(dir, "checkpoints", "pretrain", file)) || File.Exists(file), file);
        var list = await ctl.GetJsonAsync("/api/checkpoints");
        Assert.Contains(list.GetProperty("checkpoints").EnumerateArray(), c => c.GetProperty("file").GetString() == file && c.GetProperty("step").GetInt64() == pausedAt);

        // the actor tree shows the stage's actors, under the run manager singleton
        var paths = (await ctl.GetJsonAsync("/api/actors/hierarchy")).GetProperty("actors").EnumerateArray()
            .Select(a => a.GetProperty("path").GetString()!).ToList();
        foreach (var child in new[] { "data-loader", "worker-0", "checkpoint-writer", "gradient-aggregator" })
            Assert.Contains(paths, p => p.StartsWith("/user/run-manager/", StringComparison.Ordinal) && p.EndsWith($"/run-{id}/coordinator/{child}", StringComparison.Ordinal));

        // health: the worker was restarted once, holds its weights + AdamW state, and made progress
        var health = (await ctl.GetJsonAsync("/api/actors/health")).GetProperty("actors").EnumerateArray().ToList();
        var worker = health.Single(a => a.GetProperty("path").GetString()!.EndsWith("/worker-0", StringComparison.Ordinal));
        Assert.Equal(1, worker.GetProperty("restarts").GetInt32());
        Assert.Equal("paused", worker.GetProperty("state").GetString());
        Assert.True(worker.GetProperty("memoryBytes").GetInt64() > 0);
        Assert.True(worker.GetProperty("stepRate").GetDouble() > 0);
        Assert.True(worker.GetProperty("sinceLastMessage").GetDouble() >= 0);
        var loader = health.Single(a => a.GetProperty("path").GetString()!.EndsWith("/data-loader", StringComparison.Ordinal));
        Assert.Equal(0, loader.GetProperty("restarts").GetInt32());

        // metrics: Prometheus text with the run's values
        var metrics = await ctl.Http.GetStringAsync("/metrics");
        Assert.Contains($"minimind_train_step{{run=\"{id}\",stage=\"pretrain\"}} {pausedAt}\n", metrics);
        Assert.Contains($"minimind_actor_restarts_total{{run=\"{id}\",actor=\"worker-0\"}} 1\n", metrics);
        Assert.Contains("minimind_cluster_members{status=\"Up\"} 1\n", metrics);
        foreach (var family in new[] { "minimind_train_loss", "minimind_train_lr", "minimind_train_tokens_per_second", "minimind_train_grad_norm",
                                       "minimind_journal_write_seconds_count", "minimind_checkpoint_write_seconds_count", "process_resident_memory_bytes" })
            Assert.Matches($"(?m)^{family}(\\{{[^}}]*\\}})? [0-9.eE+-]+$", metrics);
        Assert.DoesNotMatch($"(?m)^minimind_journal_write_seconds_count\\{{run=\"{id}\"\\}} 0$", metrics);

        // resume: steps move again
        await ctl.PostJsonAsync("/api/train/resume");
        await Until(async () => RunStep(await ctl.GetJsonAsync("/api/runs")) > pausedAt + 2, "steps after resume");

        // the log has the run's lines, numbered
        var log = (await ctl.GetJsonAsync("/api/log?after=0")).GetProperty("lines").EnumerateArray().ToList();
        Assert.Contains(log, l => l.GetProperty("text").GetString()!.StartsWith("step ", StringComparison.Ordinal));
        Assert.Contains(log, l => l.GetProperty("text").GetString()!.Contains("checkpoint", StringComparison.Ordinal));
        var lastSeq = log[^1].GetProperty("seq").GetInt64();
        Assert.All((await ctl.GetJsonAsync($"/api/log?after={lastSeq}")).GetProperty("lines").EnumerateArray(), l => Assert.True(l.GetProperty("seq").GetInt64() > lastSeq));

        // stop: finishes the step, checkpoints, reports Stopped
        await ctl.PostJsonAsync("/api/train/stop");
        var finished = await run.Finished.WaitAsync(Patience);
        Assert.Equal(Outcome.Stopped, finished.Outcome);
        await Until(async () => (await ctl.GetJsonAsync("/api/runs")).GetProperty("runs")[0].GetProperty("status").GetString() == "stopped", "status stopped");
    }

    [Fact]
    public async Task Unknown_runs_are_404_and_a_finished_run_refuses_a_checkpoint_with_409()
    {
        var dir = TestRuns.TempRunDir("ctl-done");
        var settings = TestRuns.Tiny(dir, steps: 2, saveInterval: 1);
        await using var node = await NodeHost.StartAsync(NodeOptions.ForTraining(settings, JournalSpec.Parse("sqlite", dir), "127.0.0.1:0"));
        await using var ctl = ControlTestHost.Of(node.ControlUrl!);
        using (var none = await ctl.Http.PostAsJsonAsync("/api/train/pause", new { })) Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        var run = await node.TrainAsync(settings, _ => { });
        Assert.Equal(Outcome.Completed, (await run.Finished.WaitAsync(Patience)).Outcome);
        await Until(async () => (await ctl.GetJsonAsync("/api/runs")).GetProperty("runs")[0].GetProperty("status").GetString() == "completed", "status completed");
        using (var other = await ctl.Http.GetAsync("/api/checkpoints?run=nope")) Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using var refused = await ctl.Http.PostAsJsonAsync("/api/checkpoints/save", new { });
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("completed", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_token_is_required_on_every_request_when_configured_and_compared_exactly()
    {
        using var system = ActorSystem.Create("ctl-token");
        await using var ctl = await ControlTestHost.StartAsync(system, new TrainingMonitor(), new RunRegistry(), token: "s3cret");
        foreach (var path in new[] { "/api/runs", "/", "/api/log" })
        {
            using var bare = await ctl.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, bare.StatusCode);
            Assert.Contains("control token", await bare.Content.ReadAsStringAsync());
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/runs"))
        {
            wrong.Headers.Authorization = new("Bearer", "s3cret2");
            using var res = await ctl.Http.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        }
        using (var right = new HttpRequestMessage(HttpMethod.Get, "/api/runs"))
        {
            right.Headers.Authorization = new("Bearer", "s3cret");
            using var res = await ctl.Http.SendAsync(right);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        }
        using (var header = new HttpRequestMessage(HttpMethod.Get, "/api/log"))
        {
            header.Headers.Add(ControlAuth.HeaderName, "s3cret");
            using var res = await ctl.Http.SendAsync(header);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        }
        using (var query = await ctl.Http.GetAsync("/?token=s3cret")) Assert.Equal(HttpStatusCode.OK, query.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1", null, true)]
    [InlineData("localhost", null, true)]
    [InlineData("::1", null, true)]
    [InlineData("0.0.0.0", null, false)]
    [InlineData("10.1.2.3", null, false)]
    [InlineData("0.0.0.0", "t", true)]
    public void Binding_beyond_loopback_requires_a_token(string host, string? token, bool allowed)
    {
        if (allowed) ControlAuth.ValidateBinding(host, token);
        else Assert.Contains("--control-token", Assert.Throws<ArgumentException>(() => ControlAuth.ValidateBinding(host, token)).Message);
    }
}
