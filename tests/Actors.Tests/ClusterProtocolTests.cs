using Akka.Actor;
using MiniMind.Actors.Protocol;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>The messages that cross the cluster (issue 5) go through <see cref="TrainingSerializer"/>, never JSON by
/// accident: each has a manifest and round-trips; bulk ones are binary.</summary>
public class ClusterProtocolTests
{
    [Fact]
    public void Cluster_messages_round_trip_with_stable_manifests()
    {
        using var system = ActorSystem.Create("cluster-protocol-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        object[] messages =
        [
            new RegisterWorker("127.0.0.1:4054", "cpu"), new ReplicaLost(3, "boom"), new JoinRun("run", 3, "{\"Stage\":\"pretrain\"}", 12, 2), new ReplicaReady(3, 12),
            new ReducedGradient(3, 12, 4.5e-4, 6.25, 1022, 1000), new GradientAggregator.MicroBatchDone(12, 1, 6.5, 60),
            new StartRun("pretrain", "{}"), new RunAccepted("pretrain-1"), new RunRejected("busy"), new GetRunStatus(null),
            new RunRequested("pretrain-1", "pretrain", "{}", DateTimeOffset.UnixEpoch), new RunEnded("pretrain-1", "completed", "done", 12, "x.pth"),
        ];
        foreach (var m in messages)
        {
            var manifest = serializer.Manifest(m);
            Assert.EndsWith(".v1", manifest);
            Assert.Equal(m, serializer.FromBinary(serializer.ToBinary(m), manifest));
        }
    }

    [Fact]
    public void A_micro_batch_and_a_snapshot_blob_travel_as_binary_and_come_back_exactly()
    {
        using var system = ActorSystem.Create("cluster-binary-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        var batch = new DataLoader.MicroBatch(2, 3, [1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7], [1, 1, 0, 1, 1, 1], [10, 42]);
        var rc = new RemoteCompute(3, 12, 1, 4, batch);
        var bytes = serializer.ToBinary(rc);
        Assert.True(bytes.Length < 32 + 6 * 12 + 2 * 8 + 16 + 9, $"{bytes.Length} bytes: not the binary layout");
        var back = (RemoteCompute)serializer.FromBinary(bytes, serializer.Manifest(rc));
        Assert.Equal((rc.Generation, rc.Step, rc.Micro, rc.MicroCount), (back.Generation, back.Step, back.Micro, back.MicroCount));
        Assert.Equal((batch.Rows, batch.SeqLen), (back.Batch.Rows, back.Batch.SeqLen));
        Assert.Equal(batch.X, back.Batch.X);
        Assert.Equal(batch.Y, back.Batch.Y);
        Assert.Equal(batch.Mask, back.Batch.Mask);
        Assert.Equal(batch.Samples, back.Batch.Samples);
        Assert.Null(back.Batch.LossNormalizer);

        // reason data: the micro-batch's loss denominator travels with it
        var reason = new RemoteCompute(3, 12, 1, 4, batch with { LossNormalizer = 7.25f });
        var reasonBack = (RemoteCompute)serializer.FromBinary(serializer.ToBinary(reason), serializer.Manifest(reason));
        Assert.Equal(7.25f, reasonBack.Batch.LossNormalizer);
        Assert.Null(reasonBack.Group);
        Assert.Equal([1], reasonBack.GroupOrSelf);

        // a node's whole assignment of the step travels with each of its micro-batches
        var grouped = rc with { Group = [0, 1, 4, 5] };
        var groupedBack = (RemoteCompute)serializer.FromBinary(serializer.ToBinary(grouped), serializer.Manifest(grouped));
        Assert.Equal([0, 1, 4, 5], groupedBack.Group);

        var blob = Enumerable.Range(0, 9_000_001).Select(i => (byte)(i * 31)).ToArray();
        var chunks = BlobChunk.Split(5, blob);
        Assert.Equal(3, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Data.Length <= GradientChunk.MaxBytes));
        var shipped = chunks.Reverse().Select(c => (BlobChunk)serializer.FromBinary(serializer.ToBinary(c), serializer.Manifest(c))).ToList();
        Assert.All(shipped, c => Assert.Equal(5, c.Generation));
        Assert.Equal(blob, BlobChunk.Join(shipped));
    }
}
