namespace MiniMind.Cli.Tests;

/// <summary>Runs the CLI in-process (fast); <see cref="ChildProcess.Run"/> runs it as a real child process.</summary>
public static class CliRunner
{
    public static async Task<ChildProcess.Result> RunAsync(params string[] args)
    {
        var @out = new StringWriter();
        var err = new StringWriter();
        var code = await MiniMindCommand.RunAsync(args, @out, err, Xunit.TestContext.Current.CancellationToken);
        return new ChildProcess.Result(code, @out.ToString(), err.ToString());
    }
}
