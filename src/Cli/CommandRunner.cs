using MiniMind.Model.Checkpoints;

namespace MiniMind.Cli;

/// <summary>Runs a verb's body and turns exceptions into one stderr line and an <see cref="ExitCode"/>.</summary>
public static class CommandRunner
{
    public static int Run(CliContext ctx, Func<ExitCode> body)
    {
        try
        {
            return (int)body();
        }
        catch (Exception ex)
        {
            var (code, message) = Classify(ex);
            ctx.Error.WriteLine($"error: {message}");
            if (Environment.GetEnvironmentVariable("MINIMIND_DEBUG") == "1") ctx.Error.WriteLine(ex);
            return (int)code;
        }
    }

    public static async Task<int> RunAsync(CliContext ctx, Func<Task<ExitCode>> body)
    {
        try
        {
            return (int)await body();
        }
        catch (Exception ex)
        {
            var (code, message) = Classify(ex);
            ctx.Error.WriteLine($"error: {message}");
            if (Environment.GetEnvironmentVariable("MINIMIND_DEBUG") == "1") ctx.Error.WriteLine(ex);
            return (int)code;
        }
    }

    static (ExitCode, string) Classify(Exception ex) => ex switch
    {
        CliException c => (c.Code, c.Message),
        OperationCanceledException => (ExitCode.Cancelled, "cancelled"),
        ArgumentException a => (ExitCode.ArgumentError, a.Message),
        CheckpointFormatException c => (ExitCode.InputError, c.Message),
        StateDictMismatchException m => (ExitCode.InputError, m.Message),
        FileNotFoundException f => (ExitCode.InputError, f.FileName is null ? f.Message : $"file not found: {f.FileName}"),
        DirectoryNotFoundException d => (ExitCode.InputError, d.Message),
        InvalidDataException d => (ExitCode.InputError, d.Message),
        FormatException f => (ExitCode.InputError, f.Message),
        UnauthorizedAccessException u => (ExitCode.OutputError, u.Message),
        IOException io => (ExitCode.OutputError, io.Message),
        _ => (ExitCode.Error, $"{ex.GetType().Name}: {ex.Message}"),
    };
}
