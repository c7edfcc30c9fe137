using Xunit;
using Akka.Actor;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors.Tests;

public class ProtocolTests
{
    [Fact]
    public void Every_event_round_trips_through_the_serializer_with_a_stable_manifest()
    {
        using var system = ActorSystem.Create("serializer-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        object[] events =
        [
            new RunStarted("pretrain", "{\"a\":1}", 22000, 85), new StepCommitted(1, 12, 384, 6.25, 4.5e-4, 1022),
            new CheckpointSaved("step_00000012.ckpt", "ab12", 12), new CheckpointDiscarded("x.ckpt", "pruned"),
            new RunCompleted("runs/x/pretrain_64.pth", "cd34", 85),
        ];
        foreach (var e in events)
        {
            var manifest = serializer.Manifest(e);
            Assert.EndsWith(".v1", manifest);
            Assert.Equal(e, serializer.FromBinary(serializer.ToBinary(e), manifest));
        }
    }

    [Fact]
    public void Gradient_chunks_stay_within_4MB_and_rejoin_bit_exactly()
    {
        var grad = Enumerable.Range(0, 2_500_000).Select(i => MathF.Sin(i) * 1e-3f).ToArray();
        var chunks = GradientChunk.Split(7, 1, grad);
        Assert.Equal(3, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Data.Length <= GradientChunk.MaxBytes));
        using var system = ActorSystem.Create("chunk-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        var shipped = chunks.Reverse().Select(c => (GradientChunk)serializer.FromBinary(serializer.ToBinary(c), serializer.Manifest(c)));
        Assert.Equal(grad, GradientChunk.Join(shipped, grad.Length));
    }

    [Fact]
    public void An_unknown_type_has_no_manifest()
    {
        using var system = ActorSystem.Create("manifest-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        Assert.Throws<ArgumentException>(() => serializer.Manifest("not an event"));
    }

    [Fact]
    public void A_checkpoint_round_trips_and_any_flipped_byte_is_detected()
    {
        var ckpt = new TrainingCheckpoint(12, [1, 2, 3], [4, 5], [6]);
        var bytes = ckpt.ToBytes();
        var back = TrainingCheckpoint.FromBytes(bytes, "t");
        Assert.Equal(12, back.Step);
        Assert.Equal(ckpt.Model, back.Model);
        Assert.Equal(ckpt.Optimizer, back.Optimizer);
        Assert.Equal(ckpt.Rng, back.Rng);
        for (var i = 0; i < bytes.Length; i++)
        {
            var bad = (byte[])bytes.Clone();
            bad[i] ^= 0x40;
            Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.FromBytes(bad, "t"));
        }
        Assert.Throws<InvalidDataException>(() => TrainingCheckpoint.FromBytes(bytes[..^5], "t"));
    }

    [Fact]
    public async Task An_atomic_write_leaves_no_temp_file_and_replaces_the_target()
    {
        var dir = Directory.CreateTempSubdirectory("ckpt-write").FullName;
        var path = Path.Combine(dir, "step_00000001.ckpt");
        await TrainingCheckpoint.WriteAtomicAsync(path, [1, 2, 3], ct: TestContext.Current.CancellationToken);
        await TrainingCheckpoint.WriteAtomicAsync(path, [4, 5], ct: TestContext.Current.CancellationToken);
        Assert.Equal([4, 5], await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Directory.Delete(dir, true);
    }
}
