using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>The headline guarantee: `minimind train pretrain --deterministic`, SIGKILLed twice at random points (once
/// in the middle of a checkpoint write) and restarted each time, ends with weights bitwise identical to an
/// uninterrupted run.</summary>
public class KillResumeTests(ITestOutputHelper output)
{
    static readonly string Cli = RepoPaths.Cli;

    const int Steps = 24;

    static string[] Args(string runDir, int steps = Steps, int saveInterval = 3) =>
        [Cli, "train", "pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", Str(steps), "--batch-size", "2",
            "--max-seq-len", "32", "--accumulation-steps", "2", "--save-interval", Str(saveInterval), "--log-interval", "1"];

    static string Str(int v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>`dotnet minimind.dll train …` as a child process, with the last step it logged.</summary>
    sealed class Child : IDisposable
    {
        readonly ChildProcess _child;

        public Child(string runDir, int checkpointWriteDelayMs = 0, string[]? args = null, int computeDelayMs = 0)
        {
            // `env --default-signal=INT`: a test host started in the background by a non-interactive shell inherits SIGINT
            // as ignored, and so would the child (the .NET runtime then leaves it ignored); a terminal's Ctrl+C needs it live.
            var env = new Dictionary<string, string>();
            if (checkpointWriteDelayMs > 0) env["MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS"] = Str(checkpointWriteDelayMs);
            if (computeDelayMs > 0) env["MINIMIND_TEST_COMPUTE_DELAY_MS"] = Str(computeDelayMs);
            _child = ChildProcess.Start("env", ["--default-signal=INT", "dotnet", .. args ?? Args(runDir)], RepoPaths.Root, env);
        }

        public Process Process => _child.Process;

        public ConcurrentQueue<string> Lines => _child.Lines;

        public int LastStep => Lines.Select(l => l.StartsWith("step ", StringComparison.Ordinal) ? int.Parse(l[5..l.IndexOf('/')], System.Globalization.CultureInfo.InvariantCulture) : 0).DefaultIfEmpty(0).Max();

        /// <summary>Sends <paramref name="signal"/> (INT = a terminal's Ctrl+C, TERM) with the kill command.</summary>
        public void Signal(string signal) => _child.Signal(signal);

        /// <summary>Waits for the exit (failing after <paramref name="timeout"/>: a hang) and returns the exit code.</summary>
        public Task<int> Exit(TimeSpan timeout) => _child.Exit(timeout, TestContext.Current.CancellationToken);

        /// <summary>Whether the process catches (SigCgt) and does not ignore (SigIgn) <paramref name="signal"/>, from /proc.</summary>
        public bool Catches(int signal)
        {
            var status = File.ReadAllLines($"/proc/{Process.Id}/status");
            ulong Mask(string key) => Convert.ToUInt64(status.Single(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim(), 16);
            var bit = 1UL << (signal - 1);
            return (Mask("SigCgt:") & bit) != 0 && (Mask("SigIgn:") & bit) == 0;
        }

        public bool Has(string prefix) => _child.HasLineStartingWith(prefix);

        public void KillHard() => _child.KillHard();

        public void Dispose() => _child.Dispose();
    }

    async Task<int> RunToEnd(string runDir, List<string> log, string[]? args = null)
    {
        using var c = new Child(runDir, args: args);
        var code = await c.Exit(TimeSpan.FromMinutes(3));
        log.AddRange(c.Lines);
        return code;
    }

    static Task WaitFor(Func<bool> condition, TimeSpan timeout, string what) => Poll.Until(condition, timeout, what, intervalMs: 20);


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

        // Kill 1: at a random step after the first checkpoint file appeared (so the next start resumes from one).
        var killAt = rng.Next(5, Steps / 2);
        var ckptDir = Path.Combine(killed, "checkpoints", "pretrain");
        using (var c = new Child(killed, computeDelayMs: 100))   // paced: a quiet machine runs this shape at ~20 steps/s
        {
            await WaitFor(() => c.Process.HasExited || (c.LastStep >= killAt && RunJournal.Checkpoints(killed) > 0),
                TimeSpan.FromMinutes(2), $"step {killAt}");
            c.KillHard();
            output.WriteLine($"kill 1 after step {c.LastStep}");
        }
        Assert.True(File.Exists(Path.Combine(killed, Cluster.RunDirLock.FileName)));   // left behind by the killed holder: the restarts below must not be blocked by it

        // Kill 2: in the middle of a checkpoint write (a pause is injected half-way through the temp file).
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

    /// <summary>Ctrl+C as a terminal sends it (SIGINT to the process) and SIGTERM: each finishes the current step, writes a
    /// checkpoint and exits 0; re-running resumes and ends with the same final checkpoint as an uninterrupted run.</summary>
    [Fact]
    public async Task Ctrl_C_SIGINT_or_SIGTERM_finishes_the_step_writes_a_checkpoint_exits_0_and_a_rerun_resumes_to_identical_weights()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        // 40 steps: enough that the signal lands mid-run even when the test observes step 3 late on a loaded machine.
        const int steps = 40;
        var reference = TestRuns.TempRunDir("sigint-ref");
        var log = new List<string>();
        Assert.Equal(0, await RunToEnd(reference, log, Args(reference, steps, 100)));

        foreach (var (signal, number) in new[] { ("INT", 2), ("TERM", 15) })
        {
            var dir = TestRuns.TempRunDir($"sig{signal.ToLowerInvariant()}");
            using (var c = new Child(dir, args: Args(dir, steps, 100)))
            {
                await WaitFor(() => c.LastStep >= 3 || c.Process.HasExited, TimeSpan.FromMinutes(2), "step 3");
                Assert.True(c.Catches(number), $"SIG{signal} is not caught by the child");
                c.Signal(signal);
                var code = await c.Exit(TimeSpan.FromMinutes(2));
                foreach (var l in c.Lines) output.WriteLine(l);
                Assert.Equal(0, code);
                var stopped = c.Lines.Single(l => l.StartsWith("stopped at step", StringComparison.Ordinal));
                Assert.True(c.LastStep < steps, $"SIG{signal} landed after the run had finished");
                Assert.Contains($"stopped at step {c.LastStep};", stopped, StringComparison.Ordinal);   // the step in flight was finished
                Assert.True(File.Exists(Path.Combine(dir, "checkpoints", "pretrain", Actors.Checkpoints.TrainingCheckpoint.FileName(c.LastStep))));
            }
            var resumed = new List<string>();
            Assert.Equal(0, await RunToEnd(dir, resumed, Args(dir, steps, 100)));
            Assert.Contains(resumed, l => l.StartsWith("resumed from", StringComparison.Ordinal));
            Assert.Equal(TestRuns.FinalCheckpoint(reference, steps), TestRuns.FinalCheckpoint(dir, steps));
            Directory.Delete(dir, true);
        }
        Directory.Delete(reference, true);
    }

    public enum Phase { BeforeStart, RightAfterFinish }

    /// <summary>A signal at any phase ends the process promptly with the right code: before the host is up the run stops at
    /// step 0 (exit 0); after the run has finished (its shutdown under way) the signal changes nothing (exit 0, no hang).
    /// Mid-run is the test above. The timeout is generous: a hang is minutes, a slow machine seconds.</summary>
    [Theory]
    [InlineData(Phase.BeforeStart, "TERM")]
    [InlineData(Phase.BeforeStart, "INT")]
    [InlineData(Phase.RightAfterFinish, "TERM")]
    [InlineData(Phase.RightAfterFinish, "INT")]
    public async Task A_signal_at_any_phase_leads_to_a_prompt_exit_with_the_right_code(Phase phase, string signal)
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        var dir = TestRuns.TempRunDir($"phase-{phase}-{signal}");
        using (var c = new Child(dir, args: Args(dir, 3, 100)))
        {
            // The header's first line is printed once the signal handlers are registered, before the host starts.
            var trigger = phase == Phase.BeforeStart ? "minimind train" : "done:";
            await WaitFor(() => c.Has(trigger) || c.Process.HasExited, TimeSpan.FromMinutes(2), trigger);
            Assert.False(c.Process.HasExited, $"exited before the signal: {string.Join('\n', c.Lines)}");
            c.Signal(signal);
            var code = await c.Exit(TimeSpan.FromMinutes(2));
            foreach (var l in c.Lines) output.WriteLine(l);
            Assert.Equal(0, code);
            if (phase == Phase.BeforeStart)
            {
                Assert.Equal(0, c.LastStep);   // no step was run
                Assert.True(c.Has("stopped at step 0;"));
            }
            else
            {
                Assert.True(c.Has("done: 3 steps"));
            }
        }
        Directory.Delete(dir, true);
    }

    /// <summary>Two `train` processes on one run dir: the second fails at once naming the run dir and the holder's pid; the
    /// first trains on undisturbed.</summary>
    [Fact]
    public async Task A_second_train_on_the_same_run_dir_fails_fast_naming_the_run_dir_and_the_holders_pid()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        var dir = TestRuns.TempRunDir("lock");
        using var first = new Child(dir, args: Args(dir, 40, 100));
        await WaitFor(() => first.LastStep >= 1 || first.Process.HasExited, TimeSpan.FromMinutes(2), "step 1 of the first process");
        using (var second = new Child(dir, args: Args(dir, 40, 100)))
        {
            var code = await second.Exit(TimeSpan.FromMinutes(1));
            foreach (var l in second.Lines) output.WriteLine(l);
            Assert.Equal(4, code);   // ExitCode.OutputError: the run dir is not ours to write
            var error = Assert.Single(second.Lines, l => l.StartsWith("stderr: error:", StringComparison.Ordinal));
            Assert.Contains($"run dir {dir} is in use", error, StringComparison.Ordinal);
            Assert.Contains($"pid {first.Process.Id}", error, StringComparison.Ordinal);
            Assert.False(second.Has("started:"));
        }
        Assert.False(first.Process.HasExited);
        var before = first.LastStep;
        await WaitFor(() => first.LastStep > before || first.Process.HasExited, TimeSpan.FromMinutes(2), "the first process to go on");
        first.Signal("TERM");
        Assert.Equal(0, await first.Exit(TimeSpan.FromMinutes(2)));
        Directory.Delete(dir, true);
    }
    /// <summary>A later stage on the same machinery: LoRA (only the adapters in AdamW, the frozen base in the checkpoint),
    /// SIGKILLed once mid-run and restarted, ends with the same checkpoint and adapter file as an uninterrupted run.</summary>
    [Fact]
    public async Task Lora_killed_with_SIGKILL_resumes_to_bitwise_identical_adapters()
    {
        Assert.True(File.Exists(Cli), $"CLI not built: {Cli}");
        const int steps = 12;
        var reference = TestRuns.TempRunDir("lora-kill-ref");
        var killed = TestRuns.TempRunDir("lora-kill");
        foreach (var dir in new[] { reference, killed }) TestRuns.CopyTinyWeights(Path.Combine(dir, "full_sft_64.pth"));
        string[] LoraArgs(string runDir) =>
            [Cli, "train", "lora", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", Str(steps), "--batch-size", "2", "--save-interval", "3", "--log-interval", "1"];
        var log = new List<string>();
        Assert.Equal(0, await RunToEnd(reference, log, LoraArgs(reference)));

        // Paced (150 ms before each micro-batch; the numbers are unchanged): unpaced, a quiet machine ran all 12 steps
        // between two polls and the kill came after the run had completed.
        using (var c = new Child(killed, args: LoraArgs(killed), computeDelayMs: 150))
        {
            await WaitFor(() => c.Process.HasExited || (c.LastStep >= 5 && RunJournal.Checkpoints(killed) > 0),
                TimeSpan.FromMinutes(2), "step 5");
            Assert.False(c.Process.HasExited, "the run ended before it could be killed");
            c.KillHard();
            output.WriteLine($"killed after step {c.LastStep}");
        }
        var resumed = new List<string>();
        Assert.Equal(0, await RunToEnd(killed, resumed, LoraArgs(killed)));
        foreach (var l in resumed) output.WriteLine(l);
        Assert.Contains(resumed, l => l.StartsWith("resumed from", StringComparison.Ordinal));

        var final = Path.Combine("checkpoints", "lora-lora_medical", Actors.Checkpoints.TrainingCheckpoint.FileName(steps));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, final)), File.ReadAllBytes(Path.Combine(killed, final)));
        var adapters = Path.Combine("lora", "lora_medical_64.pth");
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, adapters)), File.ReadAllBytes(Path.Combine(killed, adapters)));
        Directory.Delete(reference, true);
        Directory.Delete(killed, true);
    }
}
