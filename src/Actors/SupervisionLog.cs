using Akka.Actor;
using Akka.Event;

namespace MiniMind.Actors;

/// <summary>
/// How a supervisor logs a child's failure: one line naming the child, the cause (exception type and the first line of
/// its message) and what happens next. Akka's default logs the exception itself, and a TorchSharp fault's message
/// carries libtorch's whole C++ backtrace: ~100 lines for a fault the restart already handles. With MINIMIND_DEBUG=1
/// the exception (message and stack trace) is attached as before.
/// </summary>
public static class SupervisionLog
{
    /// <summary>MINIMIND_DEBUG=1: attach the full exception to the log event.</summary>
    public static bool Debug { get; } = Environment.GetEnvironmentVariable("MINIMIND_DEBUG") == "1";

    /// <summary>"Type: first line of the message" (an actor's constructor failure: its inner exception's).</summary>
    public static string Cause(Exception e)
    {
        if (e is ActorInitializationException { InnerException: { } inner }) e = inner;
        var message = e.Message;
        var end = message.IndexOfAny(['\r', '\n']);
        return $"{e.GetType().Name}: {(end < 0 ? message : message[..end]).TrimEnd()}";
    }

    /// <summary>Publishes the failure of <paramref name="child"/> as Akka's <c>LogFailure</c> does (a warning on resume,
    /// an error on restart or stop, nothing on escalate: the parent logs it), in one line.</summary>
    public static void Failure(IActorContext context, IActorRef child, Exception cause, Directive directive, Type strategy, bool debug)
    {
        var next = directive switch
        {
            Directive.Resume => "resuming",
            Directive.Restart => "restarting",
            Directive.Stop => "stopping",
            _ => null,
        };
        if (next is null) return;
        var text = $"{child.Path.Name} failed ({Cause(cause)}); {next} it";
        var attached = debug ? cause : null;
        LogEvent e = directive == Directive.Resume
            ? new Warning(attached, child.Path.ToString(), strategy, text)
            : new Error(attached, child.Path.ToString(), strategy, text);
        context.System.EventStream.Publish(e);
    }
}

/// <summary>Akka's default supervision (restart on any exception except the actor-lifecycle ones, no limit), with the
/// one-line failure log of <see cref="SupervisionLog"/>.</summary>
public sealed class OneLineFailureStrategy(bool debug) : OneForOneStrategy(DefaultDecider)
{
    public OneLineFailureStrategy() : this(SupervisionLog.Debug) { }

    protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
    {
        if (LoggingEnabled) SupervisionLog.Failure(context, child, cause, directive, GetType(), debug);
    }
}
