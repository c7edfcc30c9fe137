using MiniMind.Actors;
using MiniMind.Actors.Protocol;
using MiniMind.Cli.Commands.Ctl;
using MiniMind.Cluster.Control;
using Xunit;

namespace MiniMind.Cli.Tests.Commands.Ctl;

public class CtlFormatTests
{
    [Fact]
    public void Cluster_show_prints_pbm_s_member_lines_and_the_count()
    {
        var info = new ClusterInfo("akka.tcp://minimind@10.0.0.1:4053", "akka.tcp://minimind@10.0.0.1:4053",
        [
            new MemberInfo("akka.tcp://minimind@10.0.0.1:4053", ["coordinator", "worker"], "Up", true, "1.0.0"),
            new MemberInfo("akka.tcp://minimind@10.0.0.2:4053", ["worker"], "Leaving", false, "1.0.0"),
        ]);
        Assert.Equal(
        [
            "akka.tcp://minimind@10.0.0.1:4053 | [coordinator,worker] | Up |  | 1.0.0",
            "akka.tcp://minimind@10.0.0.2:4053 | [worker] | Leaving (unreachable) |  | 1.0.0",
            "Count: 2 nodes",
        ], CtlFormat.ClusterShow(info));
    }

    [Fact]
    public void Hierarchy_prints_one_section_per_member_with_full_paths_indented_by_depth_and_errors_for_silent_members()
    {
        ActorNode[] seed = [new("/user", 1), new("/user/a", 2), new("/user/a/b", 3)];
        ActorNode[] worker = [new("/user", 1), new("/user/worker", 2), new("/user/worker/replica-0-1", 3)];
        var lines = CtlFormat.Hierarchy(new ClusterHierarchy("akka.tcp://m@h:1", seed, true,
            [new NodeHierarchy("akka.tcp://m@h:1", ["coordinator"], seed), new NodeHierarchy("akka.tcp://m@h:2", ["worker"], worker)],
            [new NodeError("akka.tcp://m@h:3", ["worker"], "did not answer within 3 s")]));
        Assert.Equal(
        [
            "akka.tcp://m@h:1 [coordinator] (this node)", "  /user", "    /user/a", "      /user/a/b",
            "akka.tcp://m@h:2 [worker]", "  /user", "    /user/worker", "      /user/worker/replica-0-1",
            "akka.tcp://m@h:3 [worker]", "  error: did not answer within 3 s",
        ], lines);
    }

    [Fact]
    public void Hierarchy_from_a_node_older_than_the_cluster_view_prints_its_own_tree()
    {
        var old = System.Text.Json.JsonSerializer.Deserialize<ClusterHierarchy>(
            """{"address":"akka.tcp://m@h:1","actors":[{"path":"/user","depth":1},{"path":"/user/a","depth":2}]}""", ControlJson.Options)!;
        Assert.Equal(["akka.tcp://m@h:1 (this node)", "  /user", "    /user/a"], CtlFormat.Hierarchy(old));
    }

    [Fact]
    public void Health_adds_one_row_per_member_with_its_replica_and_an_error_line_per_silent_member()
    {
        var info = new HealthInfo([], 300L * 1024 * 1024, [])
        {
            Nodes =
            [
                new NodeHealth("akka.tcp://m@h:1", ["coordinator"], 300L * 1024 * 1024, null, null),
                new NodeHealth("akka.tcp://m@h:2", ["worker"], 200L * 1024 * 1024, new ClusterWorker.ReplicaState("h:2", "cpu", 2, 7, true, false, 1, 0, 1, 1), null),
                new NodeHealth("akka.tcp://m@h:4", ["worker"], 100L * 1024 * 1024, new ClusterWorker.ReplicaState("h:4", "cuda:0,cuda:1", -1, -1, false, false, 0, 0, 0, 0), null),
                new NodeHealth("akka.tcp://m@h:6", ["worker"], 100L * 1024 * 1024, new ClusterWorker.ReplicaState("h:6", "cuda:0,cuda:1", 3, 0, false, false, 2, 0, 2, 1), null),
                new NodeHealth("akka.tcp://m@h:5", ["worker"], 100L * 1024 * 1024, null, "/user/worker did not answer within 1 s"),
            ],
            NodeErrors = [new NodeError("akka.tcp://m@h:3", ["worker"], "unreachable (Up): not asked")],
        };
        var lines = CtlFormat.Health(info);
        Assert.Equal("(no training actors: no run on this node)", lines[1]);
        Assert.Equal("", lines[3]);
        Assert.Equal("NODE             | ROLES       | MEMORY    | DEVICE        | REPLICA                                       | STEP | QUEUED", lines[4]);
        Assert.Equal("akka.tcp://m@h:1 | coordinator | 300.0 MiB | -             | -                                             | -    | -", lines[5]);
        Assert.Equal("akka.tcp://m@h:2 | worker      | 200.0 MiB | cpu           | ready (generation 2)                          | 7    | 1 compute, 0 reduced", lines[6]);
        Assert.Equal("akka.tcp://m@h:4 | worker      | 100.0 MiB | cuda:0,cuda:1 | idle                                          | -    | 0 compute, 0 reduced", lines[7]);
        Assert.Equal("akka.tcp://m@h:6 | worker      | 100.0 MiB | cuda:0,cuda:1 | joining (generation 3, 1/2 replicas ready)    | 0    | 2 compute, 0 reduced", lines[8]);
        Assert.Equal("akka.tcp://m@h:5 | worker      | 100.0 MiB | -             | error: /user/worker did not answer within 1 s | -    | -", lines[9]);
        Assert.Equal("error: akka.tcp://m@h:3 [worker]: unreachable (Up): not asked", lines[10]);
        Assert.Equal(11, lines.Count);
    }

    [Fact]
    public void Health_ends_with_one_row_per_rollout_and_reward_actor_of_every_member()
    {
        var info = new HealthInfo([], 100L * 1024 * 1024, [])
        {
            Nodes =
            [
                new NodeHealth("akka.tcp://m@h:1", ["coordinator"], 100L * 1024 * 1024, null, null,
                [
                    new RlActorState("/user/c/worker-0/reward", "reward", "waiting for the reward service", 12, 24, 0.0123, Models: "rule+http", Breaker: "open"),
                    new RlActorState("/user/c/worker-0/rollout", "rollout", "idle", 0, 36, 1.5, 123.4),
                ]),
                new NodeHealth("akka.tcp://m@h:2", ["worker"], 100L * 1024 * 1024, null, null,
                    [new RlActorState("/user/worker/replica-1-1/rollout", "rollout", "busy (did not answer within 1 s)", 0, 0, null)]),
                new NodeHealth("akka.tcp://m@h:3", ["worker"], 100L * 1024 * 1024, null, null),
            ],
        };
        var lines = CtlFormat.Health(info);
        Assert.Equal("", lines[^5]);                                    // after the members' table
        Assert.Equal(
        [
            "RL ACTOR                         | NODE             | STATE                            | IN FLIGHT | DONE | LAST    | RATE      | BREAKER",
            "/user/c/worker-0/reward          | akka.tcp://m@h:1 | waiting for the reward service   | 12        | 24   | 0.012 s | -         | rule+http: open",
            "/user/c/worker-0/rollout         | akka.tcp://m@h:1 | idle                             | 0         | 36   | 1.500 s | 123 tok/s | -",
            "/user/worker/replica-1-1/rollout | akka.tcp://m@h:2 | busy (did not answer within 1 s) | 0         | 0    | -       | 0 tok/s   | -",
        ], lines.TakeLast(4));
        // no RL actors anywhere: no RL table
        Assert.DoesNotContain(CtlFormat.Health(new HealthInfo([], 0, []) { Nodes = [new NodeHealth("a", [], 0, null, null)] }), l => l.StartsWith("RL ACTOR", StringComparison.Ordinal));
    }

    [Fact]
    public void Health_is_an_aligned_table_with_units()
    {
        var lines = CtlFormat.Health(new HealthInfo(
        [
            new ActorHealthRow("r1", "/user/x/coordinator/worker-0", "running", 2, 1.25, 3.5, 8L * 1024 * 1024),
            new ActorHealthRow("r1", "/user/x/coordinator/checkpoint-writer", "running", 0, null, 0, null),
        ], 300L * 1024 * 1024, ["r2: the coordinator did not answer within 5 s"]));
        Assert.Equal("RUN | ACTOR                                 | STATE   | RESTARTS | LAST MESSAGE | STEP RATE | MEMORY", lines[0]);
        Assert.Equal("r1  | /user/x/coordinator/worker-0          | running | 2        | 1.3 s ago    | 3.50/s    | 8.0 MiB", lines[1]);
        Assert.Equal("r1  | /user/x/coordinator/checkpoint-writer | running | 0        | -            | 0.00/s    | -", lines[2]);
        Assert.Equal("process memory: 300.0 MiB", lines[3]);
        Assert.Equal("warning: r2: the coordinator did not answer within 5 s", lines[4]);
    }

    [Fact]
    public void Runs_checkpoints_and_log_lines()
    {
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var runs = CtlFormat.Runs([new RunSummary("pretrain-1", "pretrain", "runs/a", "running", 7, 300, at, new MetricPoint(7, 8.5, 5.5e-4, 1234.4, 2.0, at), null)]);
        Assert.Equal("pretrain-1 | pretrain | running | 7/300 | 8.5000 | 5.500e-04 | 1234  | 2026-01-02 03:04:05", runs[1]);
        Assert.Equal(["(no runs on this node)"], CtlFormat.Runs([]));
        var cps = CtlFormat.Checkpoints("r", [new CheckpointInfo("step_00000021.ckpt", 21, "18784dc527350000", 2048, at), new CheckpointInfo("gone.ckpt", 30, "ab", null, null)]);
        Assert.Equal("21   | step_00000021.ckpt | 2.0 KiB | 2026-01-02 03:04:05 | 18784dc52735", cps[1]);
        Assert.Equal("30   | gone.ckpt          | missing | -                   | ab", cps[2]);
        Assert.Equal("03:04:05 [r] step 7/300", CtlFormat.Log(new LogLine(3, at, "r", "step 7/300")));
        Assert.Equal("03:04:05 MemberUp akka.tcp://m@h:1 | [worker] | Up", CtlFormat.ClusterEvent(new ClusterEventInfo("MemberUp", "akka.tcp://m@h:1", ["worker"], "Up", at)));
    }

    [Theory]
    [InlineData("cluster show", new[] { "cluster", "show" })]
    [InlineData("  train   start pretrain --run-dir \"my runs/a\" ", new[] { "train", "start", "pretrain", "--run-dir", "my runs/a" })]
    [InlineData("log tail -n 5 'x y' a\\ b", new[] { "log", "tail", "-n", "5", "x y", "a b" })]
    [InlineData("", new string[0])]
    public void Shell_splits_lines_into_words_like_a_shell(string line, string[] words) => Assert.Equal(words, CtlShell.Split(line));
}
