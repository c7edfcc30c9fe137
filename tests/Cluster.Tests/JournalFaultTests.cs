using Microsoft.Data.Sqlite;
using MiniMind.Actors;
using MiniMind.Tests.Common;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>A journal failure's kind (and so the CLI's exit code: 3 with the repair command, or 1) comes from SQLite's
/// error code, wherever the provider's exception sits in the chain; a message that merely reads like damage does not count.</summary>
public sealed class JournalFaultTests
{
    static SqliteException Provoke(string file, string sql)
    {
        using var c = new SqliteConnection($"Data Source={file};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Assert.Throws<SqliteException>(() => cmd.ExecuteNonQuery());
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_damage_also_when_wrapped()
    {
        using var dir = new TempDir("minimind-journal-fault-");
        var file = Path.Combine(dir.Path, "journal.db");
        File.WriteAllBytes(file, [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 7))]);
        var notADb = Provoke(file, "SELECT count(*) FROM journal");
        Assert.Equal(26, notADb.SqliteErrorCode);
        Assert.Equal(FailureKind.JournalDamaged, JournalFault.Classify(notADb));
        Assert.Equal(FailureKind.JournalDamaged, JournalFault.Classify(new InvalidOperationException("write failed", new AggregateException(notADb))));
    }

    [Fact]
    public void A_missing_table_a_busy_file_or_another_provider_is_unavailable_not_damage()
    {
        using var dir = new TempDir("minimind-journal-fault-");
        var file = Path.Combine(dir.Path, "journal.db");
        var noTable = Provoke(file, "SELECT count(*) FROM journal");
        Assert.Equal(1, noTable.SqliteErrorCode);
        Assert.Equal(FailureKind.JournalUnavailable, JournalFault.Classify(noTable));
        Assert.Equal(FailureKind.JournalUnavailable, JournalFault.Classify(new IOException("database disk image is malformed")));
    }
}
