using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Protocol;

namespace MiniMind.Cluster.Transport;

/// <summary>
/// The gradient transport of a cluster node: gradients to an actor on another node travel over the node's
/// <see cref="BulkChannel"/> (one transfer per gradient, topic <see cref="Topic"/>); the receiving node's
/// <see cref="BulkGradients"/> actor tells them to their receiver as one whole <see cref="GradientChunk"/>
/// (Index 0, Count 1, Offset 0) with the original sender as its sender, so the aggregator and the replicas see exactly
/// what the remoting chunks gave them.
/// <list type="bullet">
/// <item>Receiver in this ActorSystem: one whole chunk, told locally (one copy of the array, no serialization).</item>
/// <item>Receiver's node endpoint not known yet (<see cref="BulkGradients"/> asks each member that comes up): 4 MB
/// chunks through Akka.Remote (<see cref="RemotingGradientTransport"/>).</item>
/// <item>A bulk send that fails (peer gone, refused, stalled past <see cref="BulkChannelOptions.IoTimeout"/>): the same
/// gradient goes through the remoting chunks instead, with a warning once per peer. Nothing is dropped silently: if the
/// receiver's node is gone, the coordinator reassigns its work anyway.</item>
/// </list>
/// <see cref="Send"/> returns at once; the bulk transfer reads <c>gradient</c> in the background (the seam's contract).
/// Install one per node with <see cref="Install"/>.
/// </summary>
public sealed class BulkGradientTransport : IGradientTransport
{
    /// <summary>The bulk channel topic of gradients.</summary>
    public const string Topic = "gradient";

    readonly ExtendedActorSystem system;
    readonly ILoggingAdapter log;
    readonly ConcurrentDictionary<Address, BulkEndpoint> peers = new();
    readonly ConcurrentDictionary<BulkEndpoint, byte> warned = new();

    public BulkGradientTransport(ActorSystem system, BulkChannel channel)
    {
        this.system = (ExtendedActorSystem)system;
        Channel = channel;
        log = Logging.GetLogger(system, nameof(BulkGradientTransport));
    }

    public BulkChannel Channel { get; }

    /// <summary>Bytes and gradients per path (shown on the node's <c>/metrics</c>).</summary>
    public GradientTransportCounters Counters { get; } = new();

    /// <summary>Starts <see cref="BulkGradients"/> at <c>/user/bulk-gradients</c> on <paramref name="system"/> (it
    /// receives this node's gradients from <paramref name="channel"/> and learns the other nodes' endpoints) and makes
    /// the transport the system's <see cref="GradientTransport"/>.</summary>
    public static BulkGradientTransport Install(ActorSystem system, BulkChannel channel)
    {
        var transport = new BulkGradientTransport(system, channel);
        system.ActorOf(BulkGradients.Props(transport), BulkGradients.Name);
        GradientTransport.Use(system, transport);
        return transport;
    }

    /// <summary>Gradients to actors of <paramref name="node"/> go to <paramref name="endpoint"/> from now on.</summary>
    public void AddPeer(Address node, BulkEndpoint endpoint) => peers[node] = endpoint;

    public bool RemovePeer(Address node) => peers.TryRemove(node, out _);

    public bool TryGetPeer(Address node, out BulkEndpoint endpoint) => peers.TryGetValue(node, out endpoint!);

    public void Send(IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender)
    {
        var bytes = (long)gradient.Length * sizeof(float);
        if (receiver is IActorRefScope { IsLocal: true })
        {
            var data = MemoryMarshal.AsBytes(gradient.AsSpan()).ToArray();
            receiver.Tell(new GradientChunk(step, micro, 0, 1, 0, data, span), sender);
            Counters.Sent(GradientPath.Local, bytes);
            return;
        }
        if (!peers.TryGetValue(receiver.Path.Address, out var peer))
        {
            SendByRemoting(receiver, step, micro, span, gradient, sender);
            return;
        }
        _ = SendBulkAsync(peer, receiver, step, micro, span, gradient, sender);
    }

    async Task SendBulkAsync(BulkEndpoint peer, IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender)
    {
        try
        {
            var metadata = GradientMetadata.Write(new GradientMetadata(step, micro, span, receiver.Path.ToSerializationFormat(), PathOf(sender)));
            // Sent as bytes: the receiver reads the frames straight into the byte[] that becomes GradientChunk.Data.
            await Channel.SendAsync(peer, new BulkHeader(Guid.NewGuid(), Topic, metadata), new FloatBytes(gradient).Memory, BulkPayloadKind.Bytes)
                .ConfigureAwait(false);
            Counters.Sent(GradientPath.Bulk, (long)gradient.Length * sizeof(float));
        }
        catch (Exception e)
        {
            // BulkTransferException (unreachable, refused, broken, stalled), ObjectDisposedException (the channel closed
            // while the node shuts down), or anything unexpected: the remoting chunks still carry the gradient.
            if (warned.TryAdd(peer, 0))
                log.Warning("gradient of step {0} micro {1} to {2}: bulk channel {3} failed ({4}); sending it through Akka.Remote instead (further failures to this peer are not logged)",
                    step, micro, receiver.Path, peer, e.Message);
            Counters.Fallback();
            SendByRemoting(receiver, step, micro, span, gradient, sender);
        }
    }

    void SendByRemoting(IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender)
    {
        RemotingGradientTransport.Instance.Send(receiver, step, micro, span, gradient, sender);
        Counters.Sent(GradientPath.Remoting, (long)gradient.Length * sizeof(float));
    }

    /// <summary>The sender's full path (with this node's address when it is local); empty for no sender.</summary>
    string PathOf(IActorRef sender) =>
        sender is null || sender.IsNobody() ? "" : sender.Path.ToSerializationFormatWithAddress(system.Provider.DefaultAddress);
}

/// <summary>How a gradient travelled.</summary>
public enum GradientPath
{
    /// <summary>Over the bulk channel (TCP side channel).</summary>
    Bulk,
    /// <summary>As 4 MB <see cref="GradientChunk"/>s through Akka.Remote (no endpoint known yet, or a bulk send failed).</summary>
    Remoting,
    /// <summary>To an actor of the same ActorSystem (one chunk, told locally).</summary>
    Local,
}

/// <summary>Thread-safe counters of a node's gradient transport.</summary>
public sealed class GradientTransportCounters
{
    readonly long[] sentBytes = new long[3], sentCount = new long[3];
    long receivedBytes, receivedCount, fallbacks;

    public void Sent(GradientPath path, long bytes)
    {
        Interlocked.Add(ref sentBytes[(int)path], bytes);
        Interlocked.Increment(ref sentCount[(int)path]);
    }

    public void Received(long bytes)
    {
        Interlocked.Add(ref receivedBytes, bytes);
        Interlocked.Increment(ref receivedCount);
    }

    public void Fallback() => Interlocked.Increment(ref fallbacks);

    public long SentBytes(GradientPath path) => Interlocked.Read(ref sentBytes[(int)path]);

    public long SentGradients(GradientPath path) => Interlocked.Read(ref sentCount[(int)path]);

    /// <summary>Gradients this node received over the bulk channel and told to their receivers.</summary>
    public long ReceivedBytes => Interlocked.Read(ref receivedBytes);

    public long ReceivedGradients => Interlocked.Read(ref receivedCount);

    /// <summary>Bulk sends that failed and went through Akka.Remote instead (also counted under <see cref="GradientPath.Remoting"/>).</summary>
    public long Fallbacks => Interlocked.Read(ref fallbacks);
}

/// <summary>The bulk header metadata of a gradient: version 1, then step (int64), micro, span (int32), receiver path and
/// sender path (length-prefixed UTF-8; the sender is empty for none).</summary>
public sealed record GradientMetadata(long Step, int Micro, int Span, string Receiver, string Sender)
{
    const byte Version = 1;

    public static byte[] Write(GradientMetadata m)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Version);
            w.Write(m.Step);
            w.Write(m.Micro);
            w.Write(m.Span);
            w.Write(m.Receiver);
            w.Write(m.Sender);
        }
        return ms.ToArray();
    }

    public static GradientMetadata Read(byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), System.Text.Encoding.UTF8);
        var version = r.ReadByte();
        if (version != Version) throw new InvalidDataException($"gradient metadata version {version}, expected {Version}");
        return new GradientMetadata(r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadString());
    }
}
