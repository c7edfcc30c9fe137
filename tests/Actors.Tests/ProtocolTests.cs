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
        Assert.Equal("checkpoint-saved.v1", TrainingSerializer.ManifestOf<CheckpointSaved>());   // what a journal query looks for
    }

    [Fact]
    public void Gradient_chunks_stay_within_4MB_and_rejoin_bit_exactly()
    {
        var grad = Enumerable.Range(0, 2_500_000).Select(i => MathF.Sin(i) * 1e-3f).ToArray();
        var chunks = GradientChunk.Split(7, 2, grad, span: 2);
        Assert.Equal(3, chunks.Count);
        Assert.All(chunks, c => Assert.Equal((2, 2), (c.Micro, c.Span)));
        Assert.All(chunks, c => Assert.True(c.Data.Length <= GradientChunk.MaxBytes));
        using var system = ActorSystem.Create("chunk-test");
        var serializer = new TrainingSerializer((ExtendedActorSystem)system);
        var shipped = chunks.Reverse().Select(c => (GradientChunk)serializer.FromBinary(serializer.ToBinary(c), serializer.Manifest(c)));
        var received = shipped.ToList();
        Assert.All(received, c => Assert.Equal((7L, 2, 2), (c.Step, c.Micro, c.Span)));
        Assert.Equal(grad, GradientChunk.Join(received, grad.Length));
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
    public void A_checkpoint_carries_its_run_and_a_version_1_file_without_one_still_loads()
    {
        var settings = new TrainingSettings { RunDir = "/somewhere/run", DataPath = "/data/pretrain.jsonl", MaxSteps = 24 };
        var run = CheckpointRun.Of(settings, 22000, 24);
        var bytes = new TrainingCheckpoint(12, [1, 2, 3], [4, 5], [6]) { Run = run }.ToBytes();
        Assert.Equal(bytes.Length, new TrainingCheckpoint(12, [1, 2, 3], [4, 5], [6]) { Run = run }.ByteSize);
        var back = TrainingCheckpoint.FromBytes(bytes, "t");
        Assert.Equal(run, back.Run);
        // the run's identity has no paths: the same run in another dir writes the same bytes
        Assert.Equal(bytes, new TrainingCheckpoint(12, [1, 2, 3], [4, 5], [6]) { Run = CheckpointRun.Of(settings with { RunDir = "/elsewhere" }, 22000, 24) }.ToBytes());
        Assert.Equal(settings.Identity(), back.Run!.Settings("/elsewhere").Identity());
        Assert.Equal("/elsewhere", back.Run.Settings("/elsewhere").RunDir);

        // version 1: magic, u32 1, i64 step, three sections, SHA-256
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write("MMACKPT1"u8);
            w.Write(1u);
            w.Write(7L);
            foreach (var section in new byte[][] { [1], [2, 3], [4] }) { w.Write((long)section.Length); w.Write(section); }
        }
        var body = ms.ToArray();
        var v1 = TrainingCheckpoint.FromBytes([.. body, .. System.Security.Cryptography.SHA256.HashData(body)], "v1");
        Assert.Equal(7, v1.Step);
        Assert.Equal([2, 3], v1.Optimizer);
        Assert.Null(v1.Run);
        Assert.Equal(12, TrainingCheckpoint.StepOf("step_00000012.ckpt"));
        Assert.Null(TrainingCheckpoint.StepOf("step_00000012.ckpt.tmp"));
    }

    [Fact]
    public async Task A_checkpoint_written_from_its_parts_is_its_bytes_with_their_sha256_also_with_a_pause_mid_write()
    {
        var settings = new TrainingSettings { RunDir = "/somewhere/run", DataPath = "/data/pretrain.jsonl", MaxSteps = 24 };
        var ckpt = new TrainingCheckpoint(12, [.. Enumerable.Range(0, 1000).Select(i => (byte)i)], [.. Enumerable.Range(0, 333).Select(i => (byte)(i * 7))], [6])
        {
            Run = CheckpointRun.Of(settings, 22000, 24),
        };
        var bytes = ckpt.ToBytes();
        var (parts, sha) = ckpt.FileParts();
        Assert.Equal(bytes, parts.SelectMany(p => p.ToArray()).ToArray());
        Assert.Equal(TrainingCheckpoint.Sha256Hex(bytes), sha);
        Assert.Equal(ckpt.ByteSize, bytes.Length);
        var back = TrainingCheckpoint.FromBytes(bytes, "t");
        Assert.Equal((ckpt.Step, ckpt.Run), (back.Step, back.Run));
        Assert.Equal(ckpt.Model, back.Model);
        Assert.Equal(ckpt.Optimizer, back.Optimizer);
        Assert.Equal(ckpt.Rng, back.Rng);
        var dir = Directory.CreateTempSubdirectory("ckpt-parts").FullName;
        var path = Path.Combine(dir, "step_00000012.ckpt");
        await TrainingCheckpoint.WriteAtomicAsync(path, parts, TimeSpan.FromMilliseconds(20), TestContext.Current.CancellationToken);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path, TestContext.Current.CancellationToken));
        Assert.Equal(sha, TrainingCheckpoint.Sha256HexOfFile(path));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ExactBytes_is_what_a_memory_stream_receives_in_an_array_of_that_length()
    {
        static void Write(BinaryWriter w)
        {
            w.Write("state"u8);
            for (var i = 0; i < 10_000; i++) w.Write(i * 0.5f);
            w.Write("end");
        }
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) Write(w);
        Assert.Equal(ms.ToArray(), ExactBytes.Of(Write));
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

public class GradientAggregatorTests
{
    [Fact]
    public async Task The_aggregator_reduces_chunks_arriving_in_any_order_and_asks_the_worker_to_apply_them()
    {
        using var system = Akka.Actor.ActorSystem.Create("aggregator-test");
        var inbox = Akka.Actor.Inbox.Create(system);
        var aggregator = system.ActorOf(GradientAggregator.Props());
        var g0 = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        var g1 = Enumerable.Range(0, 10).Select(i => 0.5f * i).ToArray();
        // micro 1's pieces (4 floats a chunk) arrive before the step is announced and before micro 0's.
        foreach (var c in Protocol.GradientChunk.Split(3, 1, g1, 16).Reverse()) aggregator.Tell(c);
        aggregator.Tell(new GradientAggregator.MicroBatchDone(3, 1, 2.0, 7));
        aggregator.Tell(new GradientAggregator.BeginStep(1, 3, 2, 10, 1e-4, inbox.Receiver, inbox.Receiver));
        foreach (var c in Protocol.GradientChunk.Split(3, 0, g0, 16)) aggregator.Tell(c);
        aggregator.Tell(new GradientAggregator.MicroBatchDone(3, 0, 4.0, 5));
        var apply = Assert.IsType<GpuWorker.ApplyGradients>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(3, apply.Step);
        Assert.Equal(g0.Zip(g1, (x, y) => x + y), apply.Gradient);
        Assert.Equal(3.0, apply.Loss);
        Assert.Equal(12, apply.Tokens);
        Assert.True(apply.Exclusive);                       // a local applier and no replica: the worker may reuse the array
    }

    [Fact]
    public async Task A_gradient_the_replicas_also_get_is_not_exclusive()
    {
        // The transport may still read the sum after the applier ran its step: the applier must not reuse that array.
        using var system = Akka.Actor.ActorSystem.Create("aggregator-test");
        var inbox = Akka.Actor.Inbox.Create(system);
        var replica = Akka.Actor.Inbox.Create(system);
        var aggregator = system.ActorOf(GradientAggregator.Props());
        var g = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        aggregator.Tell(new GradientAggregator.BeginStep(1, 4, 1, 10, 1e-4, inbox.Receiver, inbox.Receiver, [replica.Receiver]));
        aggregator.Tell(new Protocol.LocalGradient(4, 0, 1, g));
        aggregator.Tell(new GradientAggregator.MicroBatchDone(4, 0, 1.0, 5));
        var apply = Assert.IsType<GpuWorker.ApplyGradients>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(5)));
        Assert.Same(g, apply.Gradient);
        Assert.False(apply.Exclusive);
        Assert.IsType<Protocol.ReducedGradient>(await replica.ReceiveAsync(TimeSpan.FromSeconds(5)));
    }
}
