using Microsoft.Extensions.Logging;

namespace MiniMind.Cluster;

/// <summary>Writes log lines synchronously to stderr: "warn: message". Used instead of the console logger provider,
/// whose background queue kept the CLI from finishing a SIGTERM drain in our tests.</summary>
public sealed class StderrLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger();

    public void Dispose() { }

    sealed class StderrLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var level = logLevel switch { LogLevel.Warning => "warn", LogLevel.Error => "error", _ => "crit" };
            Console.Error.WriteLine($"{level}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
    }
}
