using Akka.Actor;

namespace MiniMind.Actors.Protocol;

/// <summary>The seam for bulk gradient bytes (issue 5): how a flattened float32 gradient of (step, micro, span) reaches a
/// receiving actor, possibly on another node. Whatever the transport, the receiver gets <see cref="GradientChunk"/>
/// messages (any order; ≤ 4 MB each through remoting, or one whole chunk) with <c>sender</c> as their sender, so the
/// aggregator and the replicas do not care how the bytes travelled. The transport may read <c>gradient</c> after
/// <c>Send</c> returns (asynchronously): the caller must not change the array afterwards. The default sends the chunks through Akka.Remote; a TCP side channel (src/Cluster/Transport)
/// can be plugged in per ActorSystem with <see cref="GradientTransport.Use"/>.</summary>
public interface IGradientTransport
{
    void Send(IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender);
}

/// <summary>Chunks through Akka.Remote (frame ≥ 4 MB + header on every node).</summary>
public sealed class RemotingGradientTransport : IGradientTransport
{
    public static RemotingGradientTransport Instance { get; } = new();

    public void Send(IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender)
    {
        foreach (var chunk in GradientChunk.Split(step, micro, gradient, span: span)) receiver.Tell(chunk, sender);
    }
}

/// <summary>A whole flattened gradient handed to an actor in the same process: the array itself, no bytes copied. The
/// receiver owns it from then on. Never crosses the network (<see cref="GradientTransport.Deliver"/> picks it).</summary>
public sealed record LocalGradient(long Step, int Micro, int Span, float[] Gradient);

/// <summary>The ActorSystem's <see cref="IGradientTransport"/> (default: <see cref="RemotingGradientTransport"/>).</summary>
public sealed class GradientTransport : IExtension
{
    public IGradientTransport Transport { get; private set; } = RemotingGradientTransport.Instance;

    public static IGradientTransport For(ActorSystem system) => system.WithExtension<GradientTransport, Provider>().Transport;

    /// <summary>Hands <paramref name="gradient"/> to <paramref name="receiver"/>: as a <see cref="LocalGradient"/> when it
    /// lives in this process, else through the system's transport. The caller gives the array up.</summary>
    public static void Deliver(ActorSystem system, IActorRef receiver, long step, int micro, int span, float[] gradient, IActorRef sender)
    {
        if (receiver is IActorRefScope { IsLocal: true }) receiver.Tell(new LocalGradient(step, micro, span, gradient), sender);
        else For(system).Send(receiver, step, micro, span, gradient, sender);
    }

    /// <summary>Replaces the transport of <paramref name="system"/> (call at start-up, before training begins).</summary>
    public static void Use(ActorSystem system, IGradientTransport transport) =>
        system.WithExtension<GradientTransport, Provider>().Transport = transport;

    sealed class Provider : ExtensionIdProvider<GradientTransport>
    {
        public override GradientTransport CreateExtension(ExtendedActorSystem system) => new();
    }
}
