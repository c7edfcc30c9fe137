using System.Diagnostics;

namespace MiniMind.Cli.Tests;

/// <summary>Runs the CLI in-process (fast) or as a real child process (native loading, exit codes, stdout).</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Out, string Error)
    {
        public string LastLine => Out.TrimEnd().Split('\n')[^1].Trim();
    }

    public static async Task<Result> RunAsync(params string[] args)
    {
        var @out = new StringWriter();
        var err = new StringWriter();
        var code = await MiniMindCommand.RunAsync(args, @out, err, Xunit.TestContext.Current.CancellationToken);
        return new Result(code, @out.ToString(), err.ToString());
    }

    /// <summary>Runs an executable (or "dotnet" with a dll) and waits at most <paramref name="timeout"/>.</summary>
    public static Result RunProcess(string fileName, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null,
                                    IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory != null) psi.WorkingDirectory = workingDirectory;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
