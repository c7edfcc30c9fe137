namespace MiniMind.Cli;

/// <summary>Process exit codes of the minimind executable.</summary>
public enum ExitCode
{
    Ok = 0,
    /// <summary>Unexpected failure (a bug, or an environment problem not covered below).</summary>
    Error = 1,
    /// <summary>Bad command-line arguments or option values.</summary>
    ArgumentError = 2,
    /// <summary>An input file is missing, malformed, truncated or does not match the config.</summary>
    InputError = 3,
    /// <summary>An output could not be written.</summary>
    OutputError = 4,
    /// <summary>The operation was cancelled (Ctrl+C) before it could finish cleanly.</summary>
    Cancelled = 130,
}
