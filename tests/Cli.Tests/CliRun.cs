using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>Runs the minimind root command in-process and captures its output.</summary>
internal static class CliRun
{
    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var r = await CliRunner.RunAsync(args);
        return (r.ExitCode, r.Out, r.Error);
    }
}
