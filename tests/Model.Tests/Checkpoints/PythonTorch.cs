using Xunit;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>Runs Debian's PyTorch (<c>/usr/bin/python3</c> with python3-torch) as a child process, to prove real
/// torch reads our files and to make files only torch can make. A missing interpreter or torch FAILS the test
/// with the install command; it never skips.</summary>
internal static class PythonTorch
{
    public const string Interpreter = "/usr/bin/python3";

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> (sys.argv[1:]); returns stdout.
    /// Fails the test, showing stdout and stderr, on a non-zero exit.</summary>
    public static string Run(string script, params string[] args)
    {
        if (!File.Exists(Interpreter))
            Assert.Fail($"{Interpreter} not found. These tests need Debian's PyTorch: apt-get install python3-torch python3-numpy");
        ChildProcess.Result r;
        try
        {
            r = ChildProcess.Run(Interpreter, ["-c", "import torch; torch.set_num_threads(1)\n" + script, .. args], TimeSpan.FromMinutes(3), configure: psi =>
            {
                psi.Environment["OMP_NUM_THREADS"] = "1";
                psi.Environment.Remove("PYTHONPATH");
                psi.Environment.Remove("PYTHONHOME");
            });
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{Interpreter} did not finish within 3 minutes");
            throw;
        }
        var err = r.Error;
        if (r.ExitCode != 0 && err.Contains("No module named 'torch'", StringComparison.Ordinal))
            Assert.Fail($"{Interpreter} has no torch module. Install Debian's PyTorch: apt-get install python3-torch python3-numpy\n{err}");
        Assert.True(r.ExitCode == 0, $"python exited with {r.ExitCode}\n--- stdout\n{r.Out}\n--- stderr\n{err}");
        return r.Out;
    }
}
