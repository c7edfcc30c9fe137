using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary>`minimind run repair`'s refusals: one line, the right exit code, the journal left as it is. The repair itself
/// (damaged journal kept, rebuilt, bitwise resume) is Cluster.Tests' JournalLossTests.</summary>
public sealed class RunRepairCommandTests
{
    [Fact]
    public async Task A_missing_run_dir_is_exit_3_naming_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "minimind-no-such-run-" + Guid.NewGuid().ToString("N"));
        var r = await CliRunner.RunAsync("run", "repair", "--run-dir", dir);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Equal($"error: --run-dir {dir}: no such directory", r.Error.Trim());
    }

    [Fact]
    public async Task Without_checkpoints_that_carry_their_run_nothing_is_touched_and_the_exit_is_3()
    {
        var dir = Directory.CreateTempSubdirectory("minimind-repair-").FullName;
        var journal = Path.Combine(dir, "journal.db");
        byte[] damaged = [.. "not a database at all"u8];
        File.WriteAllBytes(journal, damaged);
        var r = await CliRunner.RunAsync("run", "repair", "--run-dir", dir);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains($"no checkpoint in {Path.Combine(dir, "checkpoints")} carries its run", r.Error);
        Assert.Equal(damaged, File.ReadAllBytes(journal));
        Assert.Empty(Directory.EnumerateFiles(dir, "journal.db.corrupt-*"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task A_postgres_journal_is_refused_with_exit_2()
    {
        var dir = Directory.CreateTempSubdirectory("minimind-repair-").FullName;
        var r = await CliRunner.RunAsync("run", "repair", "--run-dir", dir, "--journal", "postgres:Host=127.0.0.1;Database=x");
        Assert.Equal((int)ExitCode.ArgumentError, r.ExitCode);
        Assert.Contains("run repair rebuilds a SQLite journal", r.Error);
        Directory.Delete(dir, true);
    }
}
