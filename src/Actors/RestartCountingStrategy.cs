using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>One-for-one supervision that also tells the supervisor which child it restarts (<paramref name="restarted"/>
/// builds the message from the child's name), so restarts can be counted per child for <c>actor health</c>.</summary>
public sealed class RestartCountingStrategy<T>(Func<string, T> restarted, int maxRetries, TimeSpan within, Func<Exception, Directive> decider)
    : OneForOneStrategy(maxRetries, within, decider)
{
    public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
                                        Akka.Actor.Internal.ChildRestartStats stats, IReadOnlyCollection<Akka.Actor.Internal.ChildRestartStats> children)
    {
        if (restart) context.Self.Tell(restarted(child.Path.Name)!);
        base.ProcessFailure(context, restart, child, cause, stats, children);
    }
}
