using Microsoft.Extensions.Logging;

namespace MiniMind.Cluster;

/// <summary>Writes log lines synchronously to stderr: "warn: message". Used instead of the console logger provider,
/// whose background queue kept the CLI from finishing a SIGTERM drain in our tests. Stack frames that a message carries
/// in its text (Akka.Remote formats the exception of a failed association into the message: "Reason is: [… at …]") are
/// left out unless MINIMIND_DEBUG=1. So are DotNetty's server-side reports of a refused TLS handshake (a multi-line
/// error and a warning per attempt; a refused worker retries every 2 s): <see cref="Security.PeerRejections"/> logs one
/// line per peer instead and /metrics counts them (issue 18). Akka's own log filter does not reach the logger factory.</summary>
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

    /// <summary>True for DotNetty's per-attempt reports of a TLS handshake this node (the server) refused.</summary>
    public static bool IsRefusedHandshakeNoise(string text) =>
        text.Contains("TLS handshake failed (Server side)", StringComparison.Ordinal)
        || text.Contains("due to TLS handshake failure. This is likely invalid or malicious traffic", StringComparison.Ordinal);

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
            if (!MiniMind.Actors.SupervisionLog.Debug && IsRefusedHandshakeNoise(text)) return;
            Console.Error.WriteLine($"{level}: {(MiniMind.Actors.SupervisionLog.Debug ? text : WithoutStackFrames(text))}");
        }
    }
}
