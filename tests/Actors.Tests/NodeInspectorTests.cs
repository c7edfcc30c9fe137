using Akka.Actor;
using MiniMind.Actors.Protocol;
using Xunit;
using static MiniMind.Actors.NodeInspector;

namespace MiniMind.Actors.Tests;

/// <summary>The node inspector (<c>ctl actor hierarchy|health</c> per member): what it reports of its own node, and that
/// its messages cross the cluster through <see cref="TrainingSerializer"/>.</summary>
public class NodeInspectorTests
{
    [Fact]
    public async Task The_inspector_reports_its_node_s_tree_working_set_and_the_cluster_worker_s_replica_state()
    {
        using var system = ActorSystem.Create("inspector-test");
        system.ActorOf(ClusterWorker.Props("127.0.0.1:1", "cpu", 1, ActorRefs.Nobody), "worker");
        var inspector = system.ActorOf(NodeInspector.Props(), NodeInspector.Name);

        var report = await inspector.Ask<NodeReport>(new InspectNode(Tree: true, IncludeSystem: false), TimeSpan.FromSeconds(30));
        var paths = report.Tree!.Actors.Select(a => (a.Path, a.Depth)).ToList();
        Assert.Equal(("/user", 1), paths[0]);
        Assert.Contains(("/user/worker", 2), paths);
        Assert.Contains(("/user/inspector", 2), paths);
        Assert.DoesNotContain(paths, p => p.Path.StartsWith("/system", StringComparison.Ordinal));
        Assert.True(report.WorkingSetBytes > 0);
        Assert.Null(report.ReplicaError);
        // in no run yet: generation -1, not ready, nothing queued
        Assert.Equal(new ClusterWorker.ReplicaState("127.0.0.1:1", "cpu", -1, -1, false, false, 0, 0, 0, 0), report.Replica);

        var withSystem = await inspector.Ask<NodeReport>(new InspectNode(Tree: true, IncludeSystem: true), TimeSpan.FromSeconds(30));
        Assert.Contains(withSystem.Tree!.Actors, a => a.Path == "/system" && a.Depth == 1);
        var healthOnly = await inspector.Ask<NodeReport>(new InspectNode(Tree: false, IncludeSystem: false), TimeSpan.FromSeconds(30));
        Assert.Null(healthOnly.Tree);
    }

    [Fact]
    public async Task A_node_without_a_cluster_worker_reports_no_replica()
    {
        using var system = ActorSystem.Create("inspector-seed-test");
        var report = await NodeInspector.ReportAsync(system, new InspectNode(Tree: true, IncludeSystem: false));
        Assert.Null(report.Replica);
        Assert.Null(report.ReplicaError);
        Assert.DoesNotContain(report.Tree!.Actors, a => a.Path == "/user/worker");
    }

    [Fact]
    public void Inspector_messages_round_trip_through_the_training_serializer_with_stable_manifests()
    {
        using var system = ActorSystem.Create("inspector-protocol-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        var query = new InspectNode(Tree: true, IncludeSystem: true);
        Assert.Equal("inspect-node.v1", serializer.Manifest(query));
        Assert.Equal(query, serializer.FromBinary(serializer.ToBinary(query), "inspect-node.v1"));

        var report = new NodeReport("akka.tcp://minimind@10.0.0.2:4053", new ActorHierarchy("akka.tcp://minimind@10.0.0.2:4053", [new("/user", 1), new("/user/worker", 2)]),
            123_456_789, new ClusterWorker.ReplicaState("10.0.0.2:4053", "cuda:0,cuda:1", 3, 17, true, true, 2, 1, 2, 2), null);
        Assert.Equal("node-report.v1", serializer.Manifest(report));
        var back = (NodeReport)serializer.FromBinary(serializer.ToBinary(report), "node-report.v1");
        Assert.Equal((report.Address, report.WorkingSetBytes, report.Replica, report.ReplicaError), (back.Address, back.WorkingSetBytes, back.Replica, back.ReplicaError));
        Assert.Equal(report.Tree!.Address, back.Tree!.Address);
        Assert.Equal(report.Tree.Actors, back.Tree.Actors);
    }
}
