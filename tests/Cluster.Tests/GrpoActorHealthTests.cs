using System.Net;
using System.Text;
using System.Text.Json;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>`minimind train grpo --control …` with `--reward-url` at a reward service that is down (HTTP 503) when the
/// run starts: `ctl actor health` shows worker-0's rollout and reward actors, the reward actor waiting with its circuit
/// breaker open, and no step finishes meanwhile; `ctl actor hierarchy` has both under worker-0. Once the service is
/// up the run goes on and completes (it waited, it did not fail). The same on a cluster: the rollout and reward actors of
/// a worker node's replica are listed under that node.</summary>
[Collection("cluster processes")]
public sealed class GrpoActorHealthTests(ITestOutputHelper output) : IDisposable
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    const int Control = 47840;
    readonly HttpListener service = new();
    readonly int port = FreePort.Pick();
    volatile bool up;
    int scored;

    /// <summary>A reward service on loopback: 503 while down; else one score per item (0.5).</summary>
    void StartService()
    {
        service.Prefixes.Add($"http://127.0.0.1:{port}/");
        service.Start();
        _ = Task.Run(async () =>
        {
            while (service.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await service.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                using var doc = JsonDocument.Parse(await new StreamReader(ctx.Request.InputStream, Encoding.UTF8).ReadToEndAsync());
                var items = doc.RootElement.GetProperty("items").GetArrayLength();
                ctx.Response.StatusCode = up ? 200 : 503;
                if (up) Interlocked.Add(ref scored, items);
                var bytes = Encoding.UTF8.GetBytes(up ? JsonSerializer.Serialize(new { scores = Enumerable.Repeat(0.5, items) }) : "{}");
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
        });
    }

    public void Dispose()
    {
        service.Stop();
        service.Close();
    }

    static bool RewardRow(string line, string breaker) =>
        line.Contains("/worker-0/reward ", StringComparison.Ordinal) && line.Contains($"rule+http: {breaker}", StringComparison.Ordinal);

    [Fact]
    public async Task Ctl_actor_health_shows_the_rollout_and_reward_actors_and_the_open_breaker_while_the_reward_service_is_down()
    {
        Assert.True(File.Exists(ClusterProcesses.Cli), $"CLI not built: {ClusterProcesses.Cli}");
        StartService();
        var dir = TestRuns.TempRunDir("grpo-health");
        TestRuns.CopyTinyWeights(Path.Combine(dir, "full_sft_64.pth"));
        using var p = new ClusterProcesses(output);
        var train = p.Start("train", "train", "grpo", "--deterministic", "--threads", "1", "--run-dir", dir, "--max-steps", "2", "--batch-size", "1",
            "--num-generations", "2", "--max-gen-len", "8", "--log-interval", "1", "--control", $"127.0.0.1:{Control}",
            "--reward-url", $"http://127.0.0.1:{port}/score");
        string[] host = ["--host", $"127.0.0.1:{Control}"];

        // the first micro-batch is rolled out, then its scoring waits for the service: breaker open
        var lines = new List<string>();
        await Poll.Until(async () =>
        {
            if (train.Process.HasExited) throw new Xunit.Sdk.XunitException("the run ended: " + string.Join("\n", train.Lines));
            (_, lines) = await p.Ctl(Minute, [.. host, "actor", "health"]);
            return lines.Any(l => RewardRow(l, "open"));
        }, 3 * Minute, "the reward actor's breaker open in ctl actor health");
        foreach (var l in lines) output.WriteLine(l);
        Assert.Contains(lines, l => l.StartsWith("RL ACTOR", StringComparison.Ordinal));
        Assert.Contains(lines, l => RewardRow(l, "open") && l.Contains("waiting for the reward service", StringComparison.Ordinal));
        var rollout = Assert.Single(lines, l => l.Contains("/worker-0/rollout ", StringComparison.Ordinal));
        Assert.Contains("tok/s", rollout);                                // it rolled out the micro-batch now being scored
        Assert.DoesNotContain(train.Lines, l => l.StartsWith("step ", StringComparison.Ordinal));   // nothing learned without rewards

        var (code, tree) = await p.Ctl(Minute, [.. host, "actor", "hierarchy"]);
        Assert.True(code == 0, string.Join("\n", tree));
        Assert.Contains(tree, l => l.TrimEnd().EndsWith("/worker-0/rollout", StringComparison.Ordinal));
        Assert.Contains(tree, l => l.TrimEnd().EndsWith("/worker-0/reward", StringComparison.Ordinal));

        // the service is back: the run goes on and completes
        up = true;
        Assert.Equal(0, await train.Exit(4 * Minute, TestContext.Current.CancellationToken));
        Assert.Contains(train.Lines, l => l.Contains("\"outcome\":\"completed\"", StringComparison.Ordinal));
        Assert.Equal(2 * 1 * 2, Volatile.Read(ref scored));             // 2 steps × 1 prompt × 2 generations, each scored once
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task On_a_cluster_ctl_actor_health_shows_the_worker_node_s_replica_rollout_and_reward_actors()
    {
        Assert.True(File.Exists(ClusterProcesses.Cli), $"CLI not built: {ClusterProcesses.Cli}");
        StartService();
        var dir = TestRuns.TempRunDir("grpo-health-cluster");
        var run = Path.Combine(dir, "run");
        Directory.CreateDirectory(run);
        TestRuns.CopyTinyWeights(Path.Combine(run, "full_sft_64.pth"));
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47841, 47842, Path.Combine(dir, "journal.db"), device: null);   // computes nothing: the worker rolls out
        var worker = p.Worker("worker-1", 47841, 47843);
        await ClusterProcesses.WaitFor(() => (seed.Saw("seed up") && worker.Saw("worker up")) || seed.Process.HasExited, Minute, "seed and worker");
        string[] host = ["--host", "127.0.0.1:47842"];
        await Poll.Until(async () => (await p.Ctl(Minute, [.. host, "cluster", "show"])).Lines.Count(l => l.Contains(" | Up | ", StringComparison.Ordinal)) == 2,
            2 * Minute, "seed and worker Up");

        var (code, lines) = await p.Ctl(Minute, [.. host, "train", "start", "grpo", "--deterministic", "--threads", "1", "--run-dir", run, "--max-steps", "2",
            "--batch-size", "1", "--num-generations", "2", "--max-gen-len", "8", "--log-interval", "1", "--reward-url", $"http://127.0.0.1:{port}/score"]);
        Assert.True(code == 0, string.Join("\n", lines));
        var wait = p.Ctl(6 * Minute, [.. host, "train", "status", "--wait"]);
        static bool ReplicaReward(string l) =>
            l.Contains("/user/worker/replica-", StringComparison.Ordinal) && l.Contains("/reward ", StringComparison.Ordinal) && l.Contains("127.0.0.1:47843", StringComparison.Ordinal);
        await Poll.Until(async () =>
        {
            (_, lines) = await p.Ctl(Minute, [.. host, "actor", "health"]);
            return lines.Any(l => ReplicaReward(l) && l.Contains("rule+http: open", StringComparison.Ordinal));
        }, 3 * Minute, "the worker node's reward actor with its breaker open");
        foreach (var l in lines) output.WriteLine(l);
        Assert.Contains(lines, l => l.Contains("/user/worker/replica-", StringComparison.Ordinal) && l.Contains("/rollout ", StringComparison.Ordinal)
                                    && l.Contains("127.0.0.1:47843", StringComparison.Ordinal) && l.Contains("tok/s", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("/worker-0/reward ", StringComparison.Ordinal) && l.Contains("| idle ", StringComparison.Ordinal));   // the seed's replica computes nothing

        up = true;
        (code, lines) = await wait;
        Assert.True(code == 0, string.Join("\n", lines));
        Assert.Contains(lines, l => l.Contains("| completed | step 2/2", StringComparison.Ordinal));
        Directory.Delete(dir, true);
    }
}
