using Akka.Actor;

namespace MiniMind.Actors;

/// <summary>One-for-one supervision that also tells the supervisor which child it restarts (<paramref name="restarted"/>
/// builds the message from the child's name), so restarts can be counted per child for <c>actor health</c>. A failure is
/// logged in one line (<see cref="SupervisionLog"/>; the stack trace only with MINIMIND_DEBUG=1), and each child's last
/// failure is kept (<see cref="LastCause"/>: what a run that gives up on the child names).</summary>
public sealed class RestartCountingStrategy<T>(Func<string, T> restarted, int maxRetries, TimeSpan within, Func<Exception, Directive> decider,
                                               bool? debug = null)
    : OneForOneStrategy(maxRetries, within, decider)
{
    readonly bool debug = debug ?? SupervisionLog.Debug;
    readonly Dictionary<string, string> lastCause = [];

    /// <summary>"ExceptionType: first line of its message" of <paramref name="child"/>'s last failure, or null.</summary>
    public string? LastCause(string child) => lastCause.GetValueOrDefault(child);

    protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
    {
        if (LoggingEnabled) SupervisionLog.Failure(context, child, cause, directive, GetType(), debug);
    }

    public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
                                        Akka.Actor.Internal.ChildRestartStats stats, IReadOnlyCollection<Akka.Actor.Internal.ChildRestartStats> children)
    {
        lastCause[child.Path.Name] = SupervisionLog.Cause(cause);
        if (restart) context.Self.Tell(restarted(child.Path.Name)!);
        base.ProcessFailure(context, restart, child, cause, stats, children);
    }
}
