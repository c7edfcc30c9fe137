namespace MiniMind.Cli;

/// <summary>Where a command writes: the process console, or writers a test supplies.</summary>
public sealed record CliContext(TextWriter Out, TextWriter Error)
{
    public static CliContext Console { get; } = new(System.Console.Out, System.Console.Error);

    /// <summary>Where interactive verbs (chat) read user lines: stdin, or a reader a test supplies.</summary>
    public TextReader In { get; init; } = System.Console.In;
}

/// <summary>An error the user can act on: printed as one line to stderr, mapped to an exit code.</summary>
public sealed class CliException(ExitCode code, string message) : Exception(message)
{
    public ExitCode Code { get; } = code;
}
