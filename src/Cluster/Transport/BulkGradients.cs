using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using MiniMind.Actors.Protocol;

namespace MiniMind.Cluster.Transport;

/// <summary>
/// The bulk gradient side of a node, at <c>/user/bulk-gradients</c> (one per node, next to its
/// <see cref="BulkGradientTransport"/>):
/// <list type="bullet">
/// <item>receives: subscribed to the channel topic <see cref="BulkGradientTransport.Topic"/>, it turns each
/// <see cref="BulkTransferReceived"/> into a <see cref="GradientChunk"/> (one whole chunk) told to the actor named in
/// the metadata, with the original sender as its sender;</item>
/// <item>discovers: it answers <see cref="GetBulkEndpoint"/> with this node's endpoint, and asks every cluster member
/// that comes up (again every second until it answers), so the transport knows the endpoint before the first step.
/// A removed member is forgotten.</item>
/// </list>
/// </summary>
public sealed class BulkGradients : ReceiveActor, IWithTimers
{
    public const string Name = "bulk-gradients";

    /// <summary>Ask <paramref name="Node"/>'s bulk-gradients actor for its endpoint (until it answers). Cluster members are
    /// asked on their own; this is for ActorSystems without the cluster (the exchange bench).</summary>
    public sealed record Discover(Address Node);

    sealed record Retry;

    readonly BulkGradientTransport transport;
    readonly ExtendedActorSystem system = (ExtendedActorSystem)Context.System;
    readonly ILoggingAdapter log = Context.GetLogger();
    readonly HashSet<Address> unknown = [];
    readonly bool clustered = ((ExtendedActorSystem)Context.System).Provider is ClusterActorRefProvider;

    public BulkGradients(BulkGradientTransport transport)
    {
        this.transport = transport;
        Receive<ClusterEvent.MemberUp>(m => RequestEndpoint(m.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(m =>
        {
            unknown.Remove(m.Member.Address);
            transport.RemovePeer(m.Member.Address);
            // A new incarnation at the same address (a restarted node) may already be up: ask it.
            if (Akka.Cluster.Cluster.Get(Context.System).State.Members.Any(x => x.Address == m.Member.Address && x.Status == MemberStatus.Up))
                RequestEndpoint(m.Member.Address);
        });
        Receive<Discover>(d => RequestEndpoint(d.Node));
        Receive<Retry>(_ => { foreach (var node in unknown) RequestEndpoint(node); });
        Receive<GetBulkEndpoint>(_ => Sender.Tell(new BulkEndpointReply(transport.Channel.Endpoint.Host, transport.Channel.Endpoint.Port)));
        Receive<BulkEndpointReply>(r =>
        {
            var node = Sender.Path.Address;
            transport.AddPeer(node, new BulkEndpoint(r.Host, r.Port));
            unknown.Remove(node);
        });
        Receive<BulkTransferReceived>(Deliver);
        // The sender's send faults too and it falls back to Akka.Remote: nothing is lost.
        Receive<BulkTransferFailed>(f => log.Warning("gradient transfer {0} from {1} dropped after {2} of {3} bytes: {4} (the sender resends it through Akka.Remote)",
            f.TransferId, f.From, f.BytesReceived, f.TotalBytes, f.Reason));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(BulkGradientTransport transport) => Akka.Actor.Props.Create(() => new BulkGradients(transport));

    protected override void PreStart()
    {
        transport.Channel.Subscribe(BulkGradientTransport.Topic, Self);
        if (clustered) Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.InitialStateAsEvents, typeof(ClusterEvent.MemberUp), typeof(ClusterEvent.MemberRemoved));
        Timers.StartPeriodicTimer("retry", new Retry(), TimeSpan.FromSeconds(1));
    }

    protected override void PostStop()
    {
        transport.Channel.Unsubscribe(BulkGradientTransport.Topic);
        if (clustered) Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
    }

    void RequestEndpoint(Address node)
    {
        if (node == system.Provider.DefaultAddress) return;
        if (!transport.TryGetPeer(node, out _)) unknown.Add(node);
        Context.ActorSelection(new RootActorPath(node) / "user" / Name).Tell(GetBulkEndpoint.Instance);
    }

    void Deliver(BulkTransferReceived r)
    {
        var m = GradientMetadata.Read(r.Metadata);
        var data = r.Payload.AsBytes();
        var receiver = system.Provider.ResolveActorRef(m.Receiver);
        var sender = m.Sender.Length == 0 ? ActorRefs.NoSender : system.Provider.ResolveActorRef(m.Sender);
        transport.Counters.Received(data.Length);
        if (receiver is IActorRefScope { IsLocal: true })
        {
            receiver.Tell(new GradientChunk(m.Step, m.Micro, 0, 1, 0, data, m.Span), sender);
            return;
        }
        // Not an actor of this node (the sender's view of the cluster was stale): pass it on in remoting-sized chunks.
        log.Warning("gradient of step {0} micro {1} for {2} arrived at {3}; forwarding it through Akka.Remote", m.Step, m.Micro, m.Receiver, system.Provider.DefaultAddress);
        foreach (var chunk in GradientChunk.Split(m.Step, m.Micro, MemoryMarshal.Cast<byte, float>(data), span: m.Span)) receiver.Tell(chunk, sender);
    }
}
