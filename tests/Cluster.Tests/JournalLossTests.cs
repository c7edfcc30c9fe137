using System.Diagnostics;
using System.Globalization;
using MiniMind.Actors.Checkpoints;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>A journal that can be lost (issue 13): `minimind train` with its SQLite journal deleted, emptied, damaged or
/// truncated while checkpoints exist. Missing or empty: the journal is rebuilt from the checkpoints (which carry their
/// run) with a warning, and the run resumes to weights bitwise equal to an uninterrupted run. Damaged or truncated: exit 3
/// within seconds, naming the file and `minimind run repair`, after which the run resumes bitwise.</summary>
public class JournalLossTests(ITestOutputHelper output)
{
    const int Steps = 24;

    static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    static string[] TrainArgs(string runDir) =>
        [RepoPaths.Cli, "train", "pretrain", "--deterministic", "--threads", "1", "--run-dir", runDir, "--max-steps", Str(Steps), "--batch-size", "2",
            "--max-seq-len", "32", "--accumulation-steps", "2", "--save-interval", "3", "--log-interval", "1", "--control", "off"];

    ChildProcess.Result Run(string[] args, IReadOnlyDictionary<string, string>? env = null)
    {
        var r = ChildProcess.Run("dotnet", args, TimeSpan.FromMinutes(3), RepoPaths.Root,
            configure: psi => { foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v; });
        output.WriteLine($"$ minimind {string.Join(' ', args.Skip(1))} → exit {r.ExitCode}");
        output.WriteLine(r.Out);
        output.WriteLine(r.Error);
        return r;
    }

    static string Journal(string runDir) => Path.Combine(runDir, "journal.db");

    static string CheckpointDir(string runDir) => Path.Combine(runDir, "checkpoints", "pretrain");

    /// <summary>The reference: the same run, uninterrupted. Its final checkpoint and output.</summary>
    (byte[] Checkpoint, byte[] Output) Reference()
    {
        var dir = TestRuns.TempRunDir("jl-ref");
        Assert.Equal(0, Run(TrainArgs(dir)).ExitCode);
        var result = (TestRuns.FinalCheckpoint(dir, Steps), File.ReadAllBytes(Path.Combine(dir, "pretrain_64.pth")));
        Directory.Delete(dir, true);
        return result;
    }


    /// <summary>A run SIGKILLed mid-way, once its journal vouches for two checkpoints.</summary>
    async Task<string> Interrupted(string name)
    {
        var dir = TestRuns.TempRunDir(name);
        using var c = ChildProcess.Start("dotnet", TrainArgs(dir), RepoPaths.Root);
        await Poll.Until(() => c.Process.HasExited || RunJournal.Checkpoints(dir) >= 2, TimeSpan.FromMinutes(2), "two journaled checkpoints", intervalMs: 20);
        Assert.False(c.Process.HasExited, "the run ended before it could be killed");
        c.KillHard();
        await c.Exit(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        Assert.NotEmpty(Directory.EnumerateFiles(CheckpointDir(dir), "step_*.ckpt"));
        return dir;
    }

    void AssertBitwise((byte[] Checkpoint, byte[] Output) reference, string dir)
    {
        Assert.Equal(reference.Checkpoint, TestRuns.FinalCheckpoint(dir, Steps));
        Assert.Equal(reference.Output, File.ReadAllBytes(Path.Combine(dir, "pretrain_64.pth")));
    }

    [Theory]
    [InlineData("deleted", "missing")]
    [InlineData("emptied", "empty")]
    public async Task A_deleted_or_emptied_journal_is_rebuilt_from_the_checkpoints_with_a_warning_and_the_run_resumes_bitwise(string damage, string said)
    {
        Assert.True(File.Exists(RepoPaths.Cli), $"CLI not built: {RepoPaths.Cli}");
        var reference = Reference();
        var dir = await Interrupted($"jl-{damage}");
        var files = Directory.EnumerateFiles(CheckpointDir(dir), "step_*.ckpt").Select(Path.GetFileName).Order().ToList();
        var newest = files.Select(f => TrainingCheckpoint.StepOf(f!)!.Value).Max();
        if (damage == "deleted") File.Delete(Journal(dir));
        else File.WriteAllBytes(Journal(dir), []);

        var r = Run(TrainArgs(dir));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"warning: journal {Journal(dir)} is {said}; resuming from checkpoint step {newest} ({TrainingCheckpoint.FileName(newest)}); rebuilt the journal", r.Error, StringComparison.Ordinal);
        Assert.Contains($"resumed from {TrainingCheckpoint.FileName(newest)} at step {newest}/{Steps}", r.Out, StringComparison.Ordinal);
        AssertBitwise(reference, dir);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    public async Task A_damaged_journal_fails_fast_with_exit_3_naming_it_and_run_repair_rebuilds_it_then_the_run_resumes_bitwise(string damage)
    {
        Assert.True(File.Exists(RepoPaths.Cli), $"CLI not built: {RepoPaths.Cli}");
        var reference = Reference();
        var dir = await Interrupted($"jl-{damage}");
        var journal = Journal(dir);
        var original = File.ReadAllBytes(journal);
        Assert.True(original.Length >= 4 * 4096, $"journal of {original.Length} bytes");
        if (damage == "garbage")
        {
            // 4 KB of garbage over a page in the middle of the file
            var garbage = new byte[4096];
            new Random(13).NextBytes(garbage);
            using var fs = new FileStream(journal, FileMode.Open, FileAccess.Write);
            fs.Position = original.Length / 4096 / 2 * 4096;
            fs.Write(garbage);
        }
        else File.WriteAllBytes(journal, original[..(original.Length / 2)]);
        var damaged = File.ReadAllBytes(journal);

        var clock = Stopwatch.StartNew();
        var r = Run(TrainArgs(dir));
        clock.Stop();
        Assert.Equal(3, r.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        var errors = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error = Assert.Single(errors);
        Assert.StartsWith($"error: journal {journal} is damaged (", error, StringComparison.Ordinal);
        Assert.EndsWith($"rebuild it from the checkpoints with: minimind run repair --run-dir {dir}", error, StringComparison.Ordinal);
        Assert.Equal(damaged, File.ReadAllBytes(journal));   // nothing was changed

        var repair = Run([RepoPaths.Cli, "run", "repair", "--run-dir", dir]);
        Assert.Equal(0, repair.ExitCode);
        // the damaged file, and its rollback journal when the kill left one, kept under the same suffix
        var aside = Assert.Single(Directory.EnumerateFiles(dir, "journal.db.corrupt-*"), f => !f.EndsWith("-journal", StringComparison.Ordinal));
        Assert.All(Directory.EnumerateFiles(dir, "journal.db.corrupt-*"), f => Assert.StartsWith(aside, f, StringComparison.Ordinal));
        Assert.Equal(damaged, File.ReadAllBytes(aside));      // kept, never deleted
        Assert.Contains($"kept as {aside}", repair.Out, StringComparison.Ordinal);
        Assert.Contains("rebuilt pretrain: ", repair.Out, StringComparison.Ordinal);

        var resumed = Run(TrainArgs(dir));
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("resumed from step_", resumed.Out, StringComparison.Ordinal);
        AssertBitwise(reference, dir);
        Directory.Delete(dir, true);
    }

    static bool IsRoot => Environment.UserName == "root" || (OperatingSystem.IsLinux() && File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:\t0\t", StringComparison.Ordinal)));

    static void Sh(string command)
    {
        var r = ChildProcess.Run("sh", ["-c", command], TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"{command}: exit {r.ExitCode}: {r.Error}");
    }

    /// <summary>A full disk while writing a checkpoint: exit 4 with one line naming the file, the space needed and free,
    /// no stack trace, no partial file, the journal not blamed; after space is freed a re-run resumes bitwise. As root the
    /// checkpoint directory is a 20 MB tmpfs (two tiny checkpoints fit, the third does not); "write" fakes a free-space
    /// check that passes, so the write itself runs out of space (ENOSPC). Without root both fake the free space
    /// (MINIMIND_TEST_FREE_BYTES) and the run stops at its first checkpoint.</summary>
    [Theory]
    [InlineData("check")]
    [InlineData("write")]
    public void A_full_disk_while_checkpointing_exits_4_naming_the_file_and_a_rerun_after_freeing_space_resumes_bitwise(string where)
    {
        Assert.True(File.Exists(RepoPaths.Cli), $"CLI not built: {RepoPaths.Cli}");
        var reference = Reference();
        var dir = TestRuns.TempRunDir($"jl-full-{where}");
        var ckpt = CheckpointDir(dir);
        Directory.CreateDirectory(ckpt);
        var env = new Dictionary<string, string>();
        var mounted = false;
        try
        {
            if (IsRoot)
            {
                Sh($"mount -t tmpfs -o size=20m tmpfs '{ckpt}'");
                mounted = true;
                if (where == "write") env["MINIMIND_TEST_FREE_BYTES"] = Str(1L << 40);
            }
            else env["MINIMIND_TEST_FREE_BYTES"] = where == "write" ? "0" : Str(1L << 20);
            var r = Run(TrainArgs(dir), env);
            Assert.Equal(4, r.ExitCode);
            var error = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                l => l.StartsWith("error:", StringComparison.Ordinal));
            var expectedStep = mounted ? 9 : 3;
            Assert.Matches($@"^error: no space left writing {System.Text.RegularExpressions.Regex.Escape(Path.Combine(ckpt, TrainingCheckpoint.FileName(expectedStep)))}: needs \d+ MB, \d+ MB free$", error);
            Assert.DoesNotContain("journal", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);   // no stack trace
            Assert.DoesNotContain("   at ", r.Out, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFiles(ckpt, "*.tmp"));
            Assert.False(File.Exists(Path.Combine(ckpt, TrainingCheckpoint.FileName(expectedStep))));
            if (mounted && where == "check")
                Assert.Contains("the next checkpoint will not fit", r.Error, StringComparison.Ordinal);

            // free space, re-run
            if (mounted) Sh($"mount -o remount,size=200m '{ckpt}'");
            var resumed = Run(TrainArgs(dir));
            Assert.Equal(0, resumed.ExitCode);
            if (mounted) Assert.Contains("resumed from step_00000006.ckpt at step 6/", resumed.Out, StringComparison.Ordinal);
            AssertBitwise(reference, dir);
        }
        finally
        {
            if (mounted) Sh($"umount '{ckpt}'");
        }
        Directory.Delete(dir, true);
    }
}
