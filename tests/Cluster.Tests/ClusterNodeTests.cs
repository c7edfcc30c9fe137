using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>Reference: the same tiny deterministic run in one process (`minimind train` path, local accumulation),
/// computed once for the class.</summary>
public sealed class SingleProcessReference : IAsyncLifetime
{
    public const int Steps = 12;
    public const int Accumulation = 4;
    public string RunDir { get; } = TestRuns.TempRunDir("cluster-ref");

    public static string[] TrainArgs(string runDir) =>
        ["pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", ClusterProcesses.Str(Steps), "--batch-size", "2",
         "--max-seq-len", "32", "--accumulation-steps", ClusterProcesses.Str(Accumulation), "--save-interval", "2", "--log-interval", "1"];

    public byte[] Final => TestRuns.FinalCheckpoint(RunDir, Steps);
    public byte[] Output => File.ReadAllBytes(Path.Combine(RunDir, "pretrain_64.pth"));

    public async ValueTask InitializeAsync()
    {
        var r = await TestRuns.RunAsync(TestRuns.Tiny(RunDir, Steps, 2) with { AccumulationSteps = Accumulation });
        Assert.Equal(Actors.TrainingCoordinator.Outcome.Completed, r.Finished.Outcome);
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(RunDir, true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>Issue 5 with real processes on loopback: a seed node, worker nodes, `minimind ctl`. Every run must end with
/// the weights of the single-process run, bit for bit.</summary>
[Collection("cluster processes")]
public class ClusterNodeTests(SingleProcessReference reference, ITestOutputHelper output) : IClassFixture<SingleProcessReference>
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Seed_alone_with_a_local_worker_trains_through_ctl_and_matches_the_single_process_run()
    {
        Assert.True(File.Exists(ClusterProcesses.Cli), $"CLI not built: {ClusterProcesses.Cli}");
        var dir = TestRuns.TempRunDir("cluster-seed");
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47410, 47411, Path.Combine(dir, "journal.db"));
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up") || seed.Process.HasExited, Minute, "the seed");

        var (code, lines) = await p.Ctl(Minute, ["--host", "127.0.0.1:47411", "train", "start", .. SingleProcessReference.TrainArgs(Path.Combine(dir, "run"))]);
        Assert.Equal(0, code);
        var runId = Assert.Single(lines);
        Assert.StartsWith("pretrain-", runId, StringComparison.Ordinal);

        (code, lines) = await p.Ctl(2 * Minute, "--host", "127.0.0.1:47411", "train", "status", "--wait", "--run", runId);
        Assert.Equal(0, code);
        Assert.Contains(lines, l => l.Contains("| completed | step 12/12", StringComparison.Ordinal));

        // A second start while nothing runs is accepted; status without --run shows the newest run.
        Assert.Equal(reference.Final, TestRuns.FinalCheckpoint(Path.Combine(dir, "run"), SingleProcessReference.Steps));
        Assert.Equal(reference.Output, File.ReadAllBytes(Path.Combine(dir, "run", "pretrain_64.pth")));

        // Bad flags come back as a 400 naming the flag.
        (code, lines) = await p.Ctl(Minute, "--host", "127.0.0.1:47411", "train", "start", "pretrain", "--batch-size", "0");
        Assert.Equal(2, code);
        Assert.Contains(lines, l => l.Contains("--batch-size must be", StringComparison.Ordinal));
        Directory.Delete(dir, true);
    }

    Task<List<string>> StartAndWait(ClusterProcesses p, int control, string runDir, Func<Task>? duringRun = null) =>
        StartAndWait(reference, p, control, runDir, duringRun);

    /// <summary>`ctl train start` + `ctl train status --wait` (running <paramref name="duringRun"/> meanwhile); asserts the
    /// run completed with the single-process weights, bit for bit; returns the status lines.</summary>
    internal static async Task<List<string>> StartAndWait(SingleProcessReference reference, ClusterProcesses p, int control, string runDir, Func<Task>? duringRun = null)
    {
        var (code, lines) = await p.Ctl(Minute, ["--host", $"127.0.0.1:{control}", "train", "start", .. SingleProcessReference.TrainArgs(runDir)]);
        Assert.True(code == 0, string.Join("\n", lines));
        var wait = p.Ctl(3 * Minute, "--host", $"127.0.0.1:{control}", "train", "status", "--wait");
        if (duringRun is not null) await duringRun();
        (code, lines) = await wait;
        Assert.True(code == 0, string.Join("\n", lines));
        Assert.Contains(lines, l => l.Contains("| completed | step 12/12", StringComparison.Ordinal));
        Assert.Equal(reference.Final, TestRuns.FinalCheckpoint(runDir, SingleProcessReference.Steps));
        Assert.Equal(reference.Output, File.ReadAllBytes(Path.Combine(runDir, "pretrain_64.pth")));
        return lines;
    }

    /// <summary>The value of one sample (e.g. <c>minimind_gradient_sent_bytes_total{path="bulk"}</c>) of the node's /metrics.</summary>
    internal static async Task<double> Metric(int control, string sample)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync($"http://127.0.0.1:{control}/metrics", TestContext.Current.CancellationToken);
        var line = Assert.Single(text.Split('\n'), l => l.StartsWith(sample + " ", StringComparison.Ordinal));
        return double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>`ctl actor hierarchy` on the seed lists the worker node's section (<paramref name="header"/>) with its
    /// <c>/user/worker</c>: asked from the worker's inspector across the cluster (retried while the seed's view converges).</summary>
    static async Task AssertHierarchyShowsWorker(ClusterProcesses p, int control, string header)
    {
        var deadline = DateTime.UtcNow + Minute;
        while (true)
        {
            var (code, lines) = await p.Ctl(Minute, "--host", $"127.0.0.1:{control}", "actor", "hierarchy");
            Assert.True(code == 0, string.Join("\n", lines));
            var section = lines.SkipWhile(l => l != header).Skip(1).TakeWhile(l => l.StartsWith(' ')).ToList();
            if (section.Contains("    /user/worker")) return;
            if (DateTime.UtcNow > deadline) Assert.Fail("no /user/worker under " + header + ":\n" + string.Join("\n", lines));
            await Task.Delay(500);
        }
    }

    /// <summary>"micro-batches assigned: a 12, b 20" → {a: 12, b: 20}.</summary>
    static Dictionary<string, long> Assigned(List<string> lines)
    {
        var line = Assert.Single(lines, l => l.Contains("micro-batches assigned: ", StringComparison.Ordinal));
        return line[(line.IndexOf("assigned: ", StringComparison.Ordinal) + 10)..].Split(", ")
            .Select(x => x.Split(' ')).ToDictionary(x => x[0], x => long.Parse(x[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Worker_joining_mid_run_takes_work_and_a_worker_killed_with_SIGKILL_mid_run_is_replaced_bitwise_equal_to_one_process()
    {
        var dir = TestRuns.TempRunDir("cluster-elastic");
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47420, 47421, Path.Combine(dir, "journal.db"), device: null);
        var w1 = p.Worker("worker-1", 47420, 47422, computeDelayMs: 300);
        await ClusterProcesses.WaitFor(() => (seed.Saw("seed up") && w1.Saw("worker up")) || seed.Process.HasExited, Minute, "seed and worker-1");
        await AssertHierarchyShowsWorker(p, 47421, "akka.tcp://minimind@127.0.0.1:47422 [worker]");

        var lines = await StartAndWait(p, 47421, Path.Combine(dir, "run"), async () =>
        {
            // "worker up" is not "registered with the run": worker-1 may still be joining the seed. Start worker-2 only
            // once worker-1 has finished a step, so worker-2 really joins a run in progress.
            await ClusterProcesses.WaitForStep(47421, 1, 2 * Minute);
            p.Worker("worker-2", 47420, 47423, computeDelayMs: 300);
            output.WriteLine("started worker-2 (it joins a run in progress)");
            await ClusterProcesses.WaitForEvent(47421, "worker 127.0.0.1:47423 ready", 2 * Minute);
            await ClusterProcesses.WaitForStep(47421, await ClusterProcesses.Step(47421) + 1, 2 * Minute);
            w1.KillHard();
            output.WriteLine($"killed worker-1 after step {await ClusterProcesses.Step(47421)}");
        });
        // The seed has no --device: worker-1 computed, worker-2 joined mid-run from the current weights and took work,
        // then worker-1's in-flight micro-batches went to worker-2, which finished the run alone. (The seed's own replica
        // computes only as a last resort, when no worker is reachable: on a loaded machine worker-1's association can
        // drop for a moment, so that is allowed here; it changes no bits.)
        var ready = Assert.Single(lines, l => l.Contains("worker 127.0.0.1:47423 ready at step ", StringComparison.Ordinal));
        Assert.True(long.Parse(ready[(ready.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture) > 0, ready);   // joined mid-run
        Assert.Contains(lines, l => l.Contains("worker 127.0.0.1:47422 unreachable", StringComparison.Ordinal) || l.Contains("worker 127.0.0.1:47422 removed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("reassigned micro-batches", StringComparison.Ordinal));
        var assigned = Assigned(lines);
        Assert.True(assigned.GetValueOrDefault("127.0.0.1:47422") > 0 && assigned.GetValueOrDefault("127.0.0.1:47423") > 0, string.Join(", ", assigned));
        // The workers' gradients came in, and the reduced gradients went out, over the bulk channel.
        using (var http = new HttpClient())
            foreach (var l in (await http.GetStringAsync("http://127.0.0.1:47421/metrics", TestContext.Current.CancellationToken)).Split('\n'))
                if (l.StartsWith("minimind_gradient", StringComparison.Ordinal)) output.WriteLine(l);
        Assert.True(await Metric(47421, "minimind_gradient_received_bytes_total{path=\"bulk\"}") > 0, "no gradient reached the seed over the bulk channel");
        Assert.True(await Metric(47421, "minimind_gradient_sent_bytes_total{path=\"bulk\"}") > 0, "no reduced gradient left the seed over the bulk channel");
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task Nodes_with_two_devices_add_up_their_micro_batches_locally_and_match_the_single_process_run()
    {
        var dir = TestRuns.TempRunDir("cluster-devices");
        using var p = new ClusterProcesses(output);
        // The seed with two devices: its own replica only applies updates, a local worker computes on both devices.
        var seed = p.Seed(47430, 47431, Path.Combine(dir, "journal.db"), device: "cpu,cpu");
        var worker = p.Worker("worker", 47430, 47432, device: "cpu,cpu");
        await ClusterProcesses.WaitFor(() => (seed.Saw("seed up") && worker.Saw("worker up")) || seed.Process.HasExited, Minute, "seed and worker");
        // "worker up" is the worker's host; started before the seed was listening, it joins on a 2 s retry, and a 1.5 s
        // run could finish before it registers (seen once). Start the run once the seed has both members Up and the
        // worker has had its registration period (2 s) to register.
        var deadline = DateTime.UtcNow + Minute;
        while (!(await p.Ctl(Minute, "--host", "127.0.0.1:47431", "cluster", "show")).Lines.Contains("Count: 2 nodes"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the worker never joined");
            await Task.Delay(500, TestContext.Current.CancellationToken);
        }
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);

        var lines = await StartAndWait(p, 47431, Path.Combine(dir, "run"));
        // Each node got neighbouring micro-batches (a block of the reduction tree) and sent one sum per block, never a
        // single micro-batch's gradient: fewer gradients than micro-batches crossed to the aggregator.
        var assigned = Assigned(lines);
        Assert.DoesNotContain("coordinator", assigned.Keys);
        Assert.True(assigned.GetValueOrDefault("127.0.0.1:47430") > 0 && assigned.GetValueOrDefault("127.0.0.1:47432") > 0, string.Join(", ", assigned));
        var received = Assert.Single(lines, l => l.Contains("gradients received: ", StringComparison.Ordinal));
        var numbers = System.Text.RegularExpressions.Regex.Matches(received, "[0-9]+").Select(m => long.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var (gradients, micros, blocks) = (numbers[^3], numbers[^2], numbers[^1]);
        Assert.Equal(SingleProcessReference.Steps * SingleProcessReference.Accumulation, micros);
        Assert.True(gradients == blocks && gradients < micros, received);
        Directory.Delete(dir, true);
    }
}

/// <summary>The coordinator's node dies: kill -9 of the seed mid-run, restart with the same command. The journal is
/// PostgreSQL (what a multi-machine cluster uses); the workers are downed by the split-brain resolver, rejoin, and the
/// run resumes from the journal and the newest checkpoint, ending bitwise equal to the single-process run.</summary>
[Collection(PostgresCollection.Name)]
public class SeedFailoverTests(PostgresFixture postgres, SingleProcessReference reference, ITestOutputHelper output) : IClassFixture<SingleProcessReference>
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task Seed_killed_with_SIGKILL_and_restarted_resumes_the_run_from_its_PostgreSQL_journal_and_checkpoint()
    {
        var dir = TestRuns.TempRunDir("cluster-seed-kill");
        var journal = "postgres:" + postgres.ConnectionString();
        using var p = new ClusterProcesses(output);
        var seed = p.Seed(47440, 47441, journal, device: null);
        var w1 = p.Worker("worker-1", 47440, 47442, computeDelayMs: 150);
        await ClusterProcesses.WaitFor(() => (seed.Saw("seed up") && w1.Saw("worker up")) || seed.Process.HasExited, Minute, "seed and worker");

        var lines = await ClusterNodeTests.StartAndWait(reference, p, 47441, Path.Combine(dir, "run"), async () =>
        {
            await ClusterProcesses.WaitForStep(47441, 3, 2 * Minute);   // a checkpoint at step 2 exists
            seed.KillHard();
            output.WriteLine("killed the seed after step 3");
            p.Seed(47440, 47441, journal, device: null);
        });
        Assert.Contains(lines, l => l.Contains("resumed after a coordinator restart", StringComparison.Ordinal));
        Assert.True(w1.Saw("lost the cluster"), "the worker should have been downed and rejoined");
        // The restarted seed learnt the rejoined worker's new bulk endpoint: gradients came in over the bulk channel.
        Assert.True(await ClusterNodeTests.Metric(47441, "minimind_gradient_received_bytes_total{path=\"bulk\"}") > 0, "no gradient reached the restarted seed over the bulk channel");
        Directory.Delete(dir, true);
    }
}
