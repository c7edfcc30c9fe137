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

/// <summary>The ActorSystem's <see cref="IGradientTransport"/> (default: <see cref="RemotingGradientTransport"/>).</summary>
public sealed class GradientTransport : IExtension
{
    public IGradientTransport Transport { get; private set; } = RemotingGradientTransport.Instance;

    public static IGradientTransport For(ActorSystem system) => system.WithExtension<GradientTransport, Provider>().Transport;

    /// <summary>Replaces the transport of <paramref name="system"/> (call at start-up, before training begins).</summary>
    public static void Use(ActorSystem system, IGradientTransport transport) =>
        system.WithExtension<GradientTransport, Provider>().Transport = transport;

    sealed class Provider : ExtensionIdProvider<GradientTransport>
    {
        public override GradientTransport CreateExtension(ExtendedActorSystem system) => new();
    }
}
