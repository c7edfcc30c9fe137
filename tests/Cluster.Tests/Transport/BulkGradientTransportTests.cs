using System.Runtime.InteropServices;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Transport;

/// <summary>Two cluster nodes in one process (Akka.Remote on loopback ports 27200-27209, a <see cref="BulkChannel"/>
/// and a <see cref="BulkGradientTransport"/> each): gradients to an actor of the other node arrive as
/// <see cref="GradientChunk"/>s with the right data, span and sender, over the bulk channel while it works and through
/// the remoting chunks when it does not.</summary>
public sealed class BulkGradientTransportTests
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Writes every message with its sender to a channel the test reads.</summary>
    sealed class Recorder : ReceiveActor
    {
        public Recorder(ChannelWriter<(object Message, IActorRef Sender)> seen) => ReceiveAny(m => seen.TryWrite((m, Sender)));
    }

    sealed class Node : IAsyncDisposable
    {
        public required ActorSystem System { get; init; }
        public required BulkChannel Channel { get; init; }
        public required BulkGradientTransport Transport { get; init; }
        public Channel<(object Message, IActorRef Sender)> Seen { get; } = global::System.Threading.Channels.Channel.CreateUnbounded<(object, IActorRef)>();
        public Address Address => ((ExtendedActorSystem)System).Provider.DefaultAddress;

        public IActorRef Recorder() => System.ActorOf(Props.Create(() => new Recorder(Seen.Writer)), "recorder");

        public async Task<(GradientChunk Chunk, IActorRef Sender)> NextChunk()
        {
            var (m, sender) = await Seen.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Wait, TestContext.Current.CancellationToken);
            return (Assert.IsType<GradientChunk>(m), sender);
        }

        public async ValueTask DisposeAsync()
        {
            await System.Terminate().WaitAsync(Wait);
            await Channel.DisposeAsync();
        }
    }

    static Node Start(int port, int seedPort)
    {
        var config = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{port}}, maximum-frame-size = {{GradientChunk.MaxBytes + 65536}}b }
            akka.cluster.seed-nodes = ["akka.tcp://bulk-gradients@127.0.0.1:{{seedPort}}"]
            akka.actor.serialize-messages = off
            akka.actor.serializers.training = "MiniMind.Actors.Protocol.TrainingSerializer, MiniMind.Actors"
            akka.actor.serialization-bindings { "MiniMind.Actors.Protocol.IClusterMessage, MiniMind.Actors" = training }
            """);
        var system = ActorSystem.Create("bulk-gradients", config);
        var channel = BulkChannel.Start(new BulkChannelOptions(), system.Log);
        return new Node { System = system, Channel = channel, Transport = BulkGradientTransport.Install(system, channel) };
    }

    /// <summary>Two nodes that have learnt each other's bulk endpoint from the cluster membership (no explicit step).</summary>
    static async Task<(Node A, Node B)> Pair(int seedPort)
    {
        var a = Start(seedPort, seedPort);
        var b = Start(seedPort + 1, seedPort);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!a.Transport.TryGetPeer(b.Address, out _) || !b.Transport.TryGetPeer(a.Address, out _))
        {
            if (clock.Elapsed > Wait) throw new TimeoutException("the two nodes did not learn each other's bulk endpoint");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        Assert.True(a.Transport.TryGetPeer(b.Address, out var endpoint));
        Assert.Equal(b.Channel.Endpoint, endpoint);
        return (a, b);
    }

    /// <summary>A send is counted when the receiver's ack is back, just after the receiving actor got the chunk.</summary>
    static async Task Counted(Func<long> counter, long expected)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (counter() != expected && clock.Elapsed < Wait) await Task.Delay(20, TestContext.Current.CancellationToken);
        Assert.Equal(expected, counter());
    }

    static float[] RandomFloats(int n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    static async Task<IActorRef> RemoteRef(Node from, Node to, string name) =>
        await from.System.ActorSelection(new RootActorPath(to.Address) / "user" / name).ResolveOne(Wait);

    [Fact]
    public async Task Gradient_to_an_actor_on_another_node_should_arrive_as_one_chunk_with_its_span_and_sender_over_the_bulk_channel()
    {
        var (a, b) = await Pair(27200);
        await using var _a = a;
        await using var _b = b;
        b.Recorder();
        var receiver = await RemoteRef(a, b, "recorder");
        var sender = a.System.ActorOf(Props.Create(() => new Recorder(a.Seen.Writer)), "worker");
        var gradient = RandomFloats(1_500_001, 1);   // 6 MB: more than one remoting chunk

        a.Transport.Send(receiver, 7, 2, 2, gradient, sender);

        var (chunk, from) = await b.NextChunk();
        Assert.Equal((7L, 2, 2, 0, 1, 0L), (chunk.Step, chunk.Micro, chunk.Span, chunk.Index, chunk.Count, chunk.Offset));
        Assert.True(MemoryMarshal.AsBytes(gradient.AsSpan()).SequenceEqual(chunk.Data), "the received bytes differ from the sent gradient");
        Assert.Equal(a.Address, from.Path.Address);
        Assert.Equal(sender.Path.ToStringWithoutAddress(), from.Path.ToStringWithoutAddress());
        await Counted(() => a.Transport.Counters.SentBytes(GradientPath.Bulk), gradient.Length * 4L);
        Assert.Equal(1, a.Transport.Counters.SentGradients(GradientPath.Bulk));
        Assert.Equal(0, a.Transport.Counters.SentGradients(GradientPath.Remoting));
        Assert.Equal(gradient.Length * 4L, b.Transport.Counters.ReceivedBytes);

        // The reply path (the aggregator's broadcast of the reduced gradient) goes the same way; the sender is the
        // remote ref we got the chunk from, and the receiver of the reply is local there.
        b.Transport.Send(from, 7, ReducedGradient.ReducedMicro, 1, gradient, b.System.ActorOf(Props.Create(() => new Recorder(b.Seen.Writer)), "aggregator"));
        var (reduced, aggregator) = await a.NextChunk();
        Assert.Equal((7L, ReducedGradient.ReducedMicro, 1, 1), (reduced.Step, reduced.Micro, reduced.Span, reduced.Count));
        Assert.True(MemoryMarshal.AsBytes(gradient.AsSpan()).SequenceEqual(reduced.Data));
        Assert.Equal("/user/aggregator", aggregator.Path.ToStringWithoutAddress());
        await Counted(() => b.Transport.Counters.SentGradients(GradientPath.Bulk), 1);

        // A receiver in the same ActorSystem: one chunk told locally, nothing on the wire.
        a.Transport.Send(sender, 8, 0, 1, gradient, receiver);
        var (local, localSender) = await a.NextChunk();
        Assert.Equal((8L, 0, 1, 1), (local.Step, local.Micro, local.Span, local.Count));
        Assert.True(MemoryMarshal.AsBytes(gradient.AsSpan()).SequenceEqual(local.Data));
        Assert.Equal(receiver, localSender);
        Assert.Equal(1, a.Transport.Counters.SentGradients(GradientPath.Local));
        Assert.Equal(1, a.Transport.Counters.SentGradients(GradientPath.Bulk));

        // No endpoint known for the receiver's node (as before discovery): the 4 MB remoting chunks, not a failure.
        Assert.True(a.Transport.RemovePeer(b.Address));
        a.Transport.Send(receiver, 9, 0, 1, gradient, sender);
        var chunks = new[] { (await b.NextChunk()).Chunk, (await b.NextChunk()).Chunk };
        Assert.All(chunks, c => Assert.Equal((9L, 2), (c.Step, c.Count)));
        Assert.Equal(gradient, GradientChunk.Join(chunks, gradient.Length));
        Assert.Equal(1, a.Transport.Counters.SentGradients(GradientPath.Remoting));
        Assert.Equal(0, a.Transport.Counters.Fallbacks);
    }

    [Fact]
    public async Task Gradient_should_still_arrive_through_remoting_chunks_when_the_peer_bulk_channel_is_gone()
    {
        var (a, b) = await Pair(27205);
        await using var _a = a;
        await using var _b = b;
        b.Recorder();
        var receiver = await RemoteRef(a, b, "recorder");
        var sender = a.System.ActorOf(Props.Create(() => new Recorder(a.Seen.Writer)), "worker");
        await b.Channel.DisposeAsync();   // the endpoint A knows now refuses connections
        var gradient = RandomFloats(1_500_001, 2);

        a.Transport.Send(receiver, 3, 1, 1, gradient, sender);

        var first = await b.NextChunk();
        var second = await b.NextChunk();
        var chunks = new[] { first.Chunk, second.Chunk };
        Assert.All(chunks, c => Assert.Equal((3L, 1, 1, 2), (c.Step, c.Micro, c.Span, c.Count)));
        Assert.Equal([0, 1], chunks.Select(c => c.Index).Order());
        Assert.Equal(gradient, GradientChunk.Join(chunks, gradient.Length));
        Assert.All(new[] { first.Sender, second.Sender }, s => Assert.Equal(sender.Path.ToStringWithoutAddress(), s.Path.ToStringWithoutAddress()));
        await Counted(() => a.Transport.Counters.Fallbacks, 1);
        Assert.Equal(1, a.Transport.Counters.SentGradients(GradientPath.Remoting));
        Assert.Equal(0, a.Transport.Counters.SentGradients(GradientPath.Bulk));
    }
}
