using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using MiniMind.Actors;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Nodes;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary><c>actor hierarchy|health</c> across the cluster: a seed and a worker node hosted in this process (real
/// remoting on loopback, strict serialization), the seed's control endpoint asked over HTTP.</summary>
public class ClusterInspectionTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(1);

    /// <summary>Swallows everything: an inspector that never answers (Identify is still answered by Akka itself).</summary>
    sealed class Silent : ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }

    static async Task<T> Get<T>(HttpClient http, string url)
    {
        using var res = await http.GetAsync(url);
        var body = await res.Content.ReadAsStringAsync();
        Assert.True(res.IsSuccessStatusCode, $"GET {url}: {(int)res.StatusCode} {body}");
        return System.Text.Json.JsonSerializer.Deserialize<T>(body, ControlJson.Options)!;
    }

    static Task Until(Func<bool> condition, string what) => Poll.Until(condition, Patience, what, intervalMs: 100);

    [Fact]
    public async Task The_seed_shows_the_worker_node_s_actors_and_replica_and_lists_a_silent_member_as_an_error_within_the_timeout()
    {
        var dir = TestRuns.TempRunDir("inspect");
        try
        {
            await using var seed = await NodeHost.StartAsync(new NodeOptions
            {
                Port = 27101, Control = "127.0.0.1:0", Journal = JournalSpec.Parse("sqlite", dir), Timing = FailureTiming.Fast,
            });
            await using var worker = await NodeHost.StartAsync(new NodeOptions { Port = 27102, Seed = "127.0.0.1:27101", Device = "cpu", Timing = FailureTiming.Fast });
            await Until(() => Akka.Cluster.Cluster.Get(seed.System).State.Members.Count(m => m.Status == MemberStatus.Up) == 2, "both members Up on the seed");
            using var http = new HttpClient { BaseAddress = new Uri(seed.ControlUrl!), Timeout = Patience };
            var seedAddress = seed.SelfAddress.ToString();
            var workerAddress = worker.SelfAddress.ToString();

            // default with two members: the whole cluster; the worker's tree comes from its own inspector
            var tree = await Get<ClusterHierarchy>(http, "/api/actors/hierarchy");
            Assert.True(tree.Cluster);
            Assert.Empty(tree.Errors);
            Assert.Equal([seedAddress, workerAddress], tree.Nodes.Select(n => n.Address));
            Assert.Equal(seedAddress, tree.Address);
            var workerNode = tree.Nodes[1];
            Assert.Equal(["worker"], workerNode.Roles);
            Assert.Contains(workerNode.Actors, a => a.Path == "/user/worker" && a.Depth == 2);
            Assert.Contains(tree.Nodes[0].Actors, a => a.Path == "/user/run-manager");
            Assert.DoesNotContain(tree.Nodes[0].Actors, a => a.Path == "/user/worker");
            Assert.Equal(["coordinator"], tree.Nodes[0].Roles);

            // --local: only the serving node
            var local = await Get<ClusterHierarchy>(http, "/api/actors/hierarchy?cluster=false");
            Assert.False(local.Cluster);
            Assert.Equal([seedAddress], local.Nodes.Select(n => n.Address));
            using (var bad = await http.GetAsync("/api/actors/hierarchy?cluster=maybe"))
                Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);

            // health: one row per member; the worker node's replica (in no run yet) with its device
            var health = await Get<HealthInfo>(http, "/api/actors/health");
            Assert.Empty(health.NodeErrors);
            var seedRow = Assert.Single(health.Nodes, n => n.Address == seedAddress);
            Assert.Null(seedRow.Replica);
            var workerRow = Assert.Single(health.Nodes, n => n.Address == workerAddress);
            Assert.True(workerRow.ProcessMemoryBytes > 0);
            var replica = workerRow.Replica!;
            Assert.Equal(("cpu", -1, false), (replica.Device, replica.Generation, replica.Ready));

            // the worker's inspector is gone: the worker is listed as an error at once (identify finds nothing)
            var inspector = await worker.System.ActorSelection("/user/" + NodeInspector.Name).ResolveOne(Patience);
            Assert.True(await inspector.GracefulStop(Patience));
            tree = await Get<ClusterHierarchy>(http, "/api/actors/hierarchy");
            Assert.Equal([seedAddress], tree.Nodes.Select(n => n.Address));
            var error = Assert.Single(tree.Errors);
            Assert.Equal((workerAddress, "no /user/inspector on that node"), (error.Address, error.Error));

            // an inspector that never answers: an error after the timeout, not a hang
            await Until(() =>
            {
                try { worker.System.ActorOf(Props.Create(() => new Silent()), NodeInspector.Name); return true; }
                catch (InvalidActorNameException) { return false; }   // the old one's name is released asynchronously
            }, "the inspector's name to be free");
            var clock = Stopwatch.StartNew();
            health = await Get<HealthInfo>(http, "/api/actors/health");
            clock.Stop();
            var silent = Assert.Single(health.NodeErrors);
            Assert.Equal((workerAddress, $"did not answer within {ActorRoutes.InspectTimeout.TotalSeconds:0} s"), (silent.Address, silent.Error));
            Assert.Equal([seedAddress], health.Nodes.Select(n => n.Address));
            Assert.True(clock.Elapsed >= ActorRoutes.InspectTimeout - TimeSpan.FromMilliseconds(200) && clock.Elapsed < ActorRoutes.InspectTimeout + TimeSpan.FromSeconds(10),
                $"answered after {clock.Elapsed}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
