using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>The headline guarantee: `minimind train pretrain --deterministic`, SIGKILLed twice at random points (once
/// in the middle of a checkpoint write) and restarted each time, ends with weights bitwise identical to an
/// uninterrupted run.</summary>
public class KillResumeTests(ITestOutputHelper output)
{
    static readonly string Cli = Path.Combine(TestRuns.Repo, "src", "Cli", "bin",
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!), "net10.0", "minimind.dll");

    const int Steps = 24;

    static string Args(string runDir) =>
        $"\"{Cli}\" train pretrain --deterministic --threads 1 --run-dir \"{runDir}\" --max-steps {Steps} --batch-size 2 " +
        "--max-seq-len 32 --accumulation-steps 2 --save-interval 3 --log-interval 1";

    sealed class Child : IDisposable
    {
        public readonly Process Process;
        public readonly ConcurrentQueue<string> Lines = new();

        public Child(string runDir, int checkpointWriteDelayMs = 0)
        {
            var psi = new ProcessStartInfo("dotnet", Args(runDir))
            {
                WorkingDirectory = TestRuns.Repo,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            if (checkpointWriteDelayMs > 0) psi.Environment["MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS"] = checkpointWriteDelayMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Process = Process.Start(psi)!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) Lines.Enqueue(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Lines.Enqueue("stderr: " + e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public int LastStep => Lines.Select(l => l.StartsWith("step ", StringComparison.Ordinal) ? int.Parse(l[5..l.IndexOf('/')], System.Globalization.CultureInfo.InvariantCulture) : 0).DefaultIfEmpty(0).Max();

        public void KillHard()
        {
            Process.Kill(entireProcessTree: true);   // SIGKILL
            Process.WaitForExit();
        }

        public void Dispose()
        {
            if (!Process.HasExited) KillHard();
            Process.Dispose();
        }
    }

    async Task<int> RunToEnd(string runDir, List<string> log)
    {
        using var c = new Child(runDir);
        await c.Process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        c.Process.WaitForExit();
        log.AddRange(c.Lines);
        return c.Process.ExitCode;
    }

    static async Task WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Training_killed_twice_with_SIGKILL_resumes_to_bitwise_identical_weights()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        var seed = Environment.TickCount;
        var rng = new Random(seed);
        output.WriteLine($"random seed {seed}");
        var reference = TestRuns.TempRunDir("kill-ref");
        var killed = TestRuns.TempRunDir("kill");
        var log = new List<string>();

        Assert.Equal(0, await RunToEnd(reference, log));

        // Kill 1: at a random step.
        var killAt = rng.Next(2, Steps / 2);
        using (var c = new Child(killed))
        {
            await WaitFor(() => c.LastStep >= killAt || c.Process.HasExited, TimeSpan.FromMinutes(2), $"step {killAt}");
            c.KillHard();
            output.WriteLine($"kill 1 after step {c.LastStep}");
        }

        // Kill 2: in the middle of a checkpoint write (a pause is injected half-way through the temp file).
        var ckptDir = Path.Combine(killed, "checkpoints", "pretrain");
        using (var c = new Child(killed, checkpointWriteDelayMs: 3000))
        {
            await WaitFor(() => Directory.Exists(ckptDir) && Directory.EnumerateFiles(ckptDir, "*.tmp").Any(), TimeSpan.FromMinutes(2), "a checkpoint write");
            await Task.Delay(rng.Next(0, 1000), TestContext.Current.CancellationToken);
            c.KillHard();
            output.WriteLine($"kill 2 during {Path.GetFileName(Directory.EnumerateFiles(ckptDir, "*.tmp").First())}, after step {c.LastStep}");
            log.AddRange(c.Lines);
        }
        Assert.NotEmpty(Directory.EnumerateFiles(ckptDir, "*.tmp"));   // the kill really hit a write

        var resumeLog = new List<string>();
        Assert.Equal(0, await RunToEnd(killed, resumeLog));
        foreach (var l in resumeLog) output.WriteLine(l);
        Assert.Contains(resumeLog, l => l.StartsWith("resumed from", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(ckptDir, "*.tmp"));

        Assert.Equal(TestRuns.FinalCheckpoint(reference, Steps), TestRuns.FinalCheckpoint(killed, Steps));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "pretrain_64.pth")), File.ReadAllBytes(Path.Combine(killed, "pretrain_64.pth")));

        // Re-running a completed run says so and exits 0.
        var again = new List<string>();
        Assert.Equal(0, await RunToEnd(killed, again));
        Assert.Contains(again, l => l.StartsWith("run already completed", StringComparison.Ordinal));
        Directory.Delete(reference, true);
        Directory.Delete(killed, true);
    }
}
