using System.Text.Json;
using static MiniMind.Actors.TrainingCoordinator;

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

/// <summary>The exit code of a failed run, from the kind of failure the coordinator recorded (never from its message).</summary>
public static class FailureExit
{
    public static ExitCode For(FailureKind kind) => kind switch
    {
        FailureKind.BadArguments => ExitCode.ArgumentError,
        FailureKind.BadInput or FailureKind.JournalDamaged => ExitCode.InputError,
        FailureKind.OutputNotWritable => ExitCode.OutputError,
        _ => ExitCode.Error,
    };

    /// <summary>The kind as <c>/api/train/status</c> spells it (snake_case; null or unknown: unexpected).</summary>
    public static ExitCode For(string? kind) =>
        Enum.GetValues<FailureKind>().FirstOrDefault(k => JsonNamingPolicy.SnakeCaseLower.ConvertName(k.ToString()) == kind) is var k && k != FailureKind.None
            ? For(k) : ExitCode.Error;
}
