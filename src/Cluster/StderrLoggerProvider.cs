using Microsoft.Extensions.Logging;

namespace MiniMind.Cluster;

/// <summary>Writes log lines synchronously to stderr: "warn: message". Used instead of the console logger provider,
/// whose background queue kept the CLI from finishing a SIGTERM drain in our tests. Stack frames that a message carries
/// in its text (Akka.Remote formats the exception of a failed association into the message: "Reason is: [… at …]") are
/// left out unless MINIMIND_DEBUG=1.</summary>
public sealed class StderrLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger();

    /// <summary><paramref name="text"/> without its stack-frame lines ("   at …", "--- End of …").</summary>
    public static string WithoutStackFrames(string text)
    {
        if (!text.Contains('\n', StringComparison.Ordinal)) return text;
        var kept = text.Split('\n').Where(l =>
        {
            var t = l.TrimStart();
            return !(t.StartsWith("at ", StringComparison.Ordinal) && l.Length > t.Length) && !t.StartsWith("--- End of ", StringComparison.Ordinal);
        });
        return string.Join('\n', kept).TrimEnd();
    }

    public void Dispose() { }

    sealed class StderrLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var level = logLevel switch { LogLevel.Warning => "warn", LogLevel.Error => "error", _ => "crit" };
            var text = $"{formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}";
            Console.Error.WriteLine($"{level}: {(MiniMind.Actors.SupervisionLog.Debug ? text : WithoutStackFrames(text))}");
        }
    }
}
