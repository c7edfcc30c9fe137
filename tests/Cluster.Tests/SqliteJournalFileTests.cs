using Microsoft.Data.Sqlite;
using MiniMind.Cluster;
using MiniMind.Tests.Common;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>The pre-flight check of a SQLite journal file never changes the file it checks.</summary>
public sealed class SqliteJournalFileTests
{
    /// <summary>A kill in the middle of a transaction leaves a hot rollback journal beside the file. Any connection that
    /// opens the file rolls it back into the file; the check must not, so that a file it finds damaged stays as it was.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_file_with_a_hot_rollback_journal_is_checked_without_being_changed(bool truncated)
    {
        using var dir = new TempDir("minimind-sqlite-check-");
        var image = CrashImage(dir.Path);
        if (truncated)
        {
            var bytes = File.ReadAllBytes(image);
            File.WriteAllBytes(image, bytes[..(bytes.Length / 2)]);
        }
        var before = File.ReadAllBytes(image);
        var journalBefore = File.ReadAllBytes(image + "-journal");

        var check = SqliteJournalFile.Inspect(image);

        Assert.Equal(image, check.File);
        if (truncated) Assert.Equal(JournalFileState.Corrupt, check.State);
        Assert.Equal(before, File.ReadAllBytes(image));
        Assert.Equal(journalBefore, File.ReadAllBytes(image + "-journal"));
    }

    /// <summary>The files a process killed inside a write transaction leaves: the database with some of the transaction's
    /// pages spilled into it, and the rollback journal holding their originals.</summary>
    static string CrashImage(string dir)
    {
        var live = Path.Combine(dir, "live.db");
        var image = Path.Combine(dir, "journal.db");
        using (var c = new SqliteConnection($"Data Source={live};Pooling=False"))
        {
            c.Open();
            Exec(c, "PRAGMA journal_mode=DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)");
            for (var i = 0; i < 200; i++) Exec(c, $"INSERT INTO t (payload) VALUES (randomblob(1000))");
            Exec(c, "PRAGMA cache_size=2; BEGIN IMMEDIATE; UPDATE t SET payload = randomblob(1000)");   // spills dirty pages
            Assert.True(File.Exists(live + "-journal"), "no rollback journal during the transaction");
            File.Copy(live, image);
            File.Copy(live + "-journal", image + "-journal");
            Exec(c, "ROLLBACK");
        }
        // The image is one a rollback would change: otherwise the test could not fail.
        var probe = Path.Combine(dir, "probe.db");
        File.Copy(image, probe);
        File.Copy(image + "-journal", probe + "-journal");
        using (var c = new SqliteConnection($"Data Source={probe};Pooling=False"))
        {
            c.Open();
            Exec(c, "SELECT count(*) FROM sqlite_master");
        }
        Assert.NotEqual(File.ReadAllBytes(image), File.ReadAllBytes(probe));
        return image;
    }

    static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
