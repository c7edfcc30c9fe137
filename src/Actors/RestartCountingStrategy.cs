using Akka.Actor;
using Akka.Event;

namespace MiniMind.Actors;

/// <summary>One-for-one supervision that also tells the supervisor which child it restarts (<paramref name="restarted"/>
/// builds the message from the child's name), so restarts can be counted per child for <c>actor health</c>. It keeps
/// each child's last failure (<see cref="LastCause"/>: what a run that gives up on the child names), and logs a failure
/// as one warning line naming the exception's type and first message line; the stack trace is logged only with
/// <c>MINIMIND_DEBUG=1</c>.</summary>
public sealed class RestartCountingStrategy<T>(Func<string, T> restarted, int maxRetries, TimeSpan within, Func<Exception, Directive> decider)
    : OneForOneStrategy(maxRetries, within, decider)
{
    readonly Dictionary<string, string> lastCause = [];

    /// <summary>"ExceptionType: first line of its message" of <paramref name="child"/>'s last failure, or null.</summary>
    public string? LastCause(string child) => lastCause.GetValueOrDefault(child);

    public override void ProcessFailure(IActorContext context, bool restart, IActorRef child, Exception cause,
                                        Akka.Actor.Internal.ChildRestartStats stats, IReadOnlyCollection<Akka.Actor.Internal.ChildRestartStats> children)
    {
        lastCause[child.Path.Name] = FailureText.OneLine(cause);
        if (restart) context.Self.Tell(restarted(child.Path.Name)!);
        base.ProcessFailure(context, restart, child, cause, stats, children);
    }

    protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
    {
        if (!LoggingEnabled || directive == Directive.Escalate) return;   // an escalated failure is reported by whoever handles it
        if (Environment.GetEnvironmentVariable("MINIMIND_DEBUG") == "1")
            context.System.EventStream.Publish(new Error(cause, child.Path.ToString(), GetType(), $"{child.Path.Name} failed"));
        else
            context.System.EventStream.Publish(new Warning(child.Path.ToString(), GetType(), $"{child.Path.Name} failed: {FailureText.OneLine(cause)}"));
    }
}

/// <summary>How a failure is named in logs and run reports.</summary>
public static class FailureText
{
    /// <summary>An exception in one line: its type and the first line of its message (native errors append their frames).</summary>
    public static string OneLine(Exception cause)
    {
        var e = cause is ActorInitializationException { InnerException: { } inner } ? inner : cause;
        var message = e.Message.Split('\n', 2)[0].TrimEnd();
        return $"{e.GetType().Name}: {message}";
    }
}
