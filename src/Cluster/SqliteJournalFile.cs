using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MiniMind.Cluster;

/// <summary>What a pre-flight found in a SQLite journal file (<see cref="SqliteJournalFile.Inspect"/>).</summary>
public enum JournalFileState
{
    /// <summary>A readable SQLite database (its integrity check passed).</summary>
    Usable,
    Missing,
    /// <summary>0 bytes: SQLite would take it for a new database.</summary>
    Empty,
    /// <summary>Not a database, truncated, or failing SQLite's integrity check.</summary>
    Corrupt,
}

public sealed record JournalFileCheck(JournalFileState State, string File, string? Problem = null);

/// <summary>Checks on the SQLite file of a journal, before any actor system opens it: a damaged file is named within
/// seconds (instead of failing at some step, or after the persistence plugin's retries), and a missing or empty one is
/// told apart from a run that never started.</summary>
public static class SqliteJournalFile
{
    static readonly byte[] Header = "SQLite format 3\0"u8.ToArray();

    /// <summary>The companion files SQLite keeps beside a database (rollback journal, WAL and its index).</summary>
    static readonly string[] Companions = ["-journal", "-wal", "-shm"];

    public static JournalFileCheck Inspect(string file)
    {
        var info = new FileInfo(file);
        if (!info.Exists) return new(JournalFileState.Missing, file);
        if (info.Length == 0) return new(JournalFileState.Empty, file);
        var head = new byte[100];
        int read;
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            read = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (read < head.Length || !head.AsSpan(0, Header.Length).SequenceEqual(Header))
            return new(JournalFileState.Corrupt, file, read < head.Length ? $"truncated to {info.Length} bytes" : "not a SQLite database (bad header)");
        int pageSize = BinaryPrimitives.ReadUInt16BigEndian(head.AsSpan(16));
        if (pageSize == 1) pageSize = 65536;
        var pages = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(28));
        var changeCounter = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(24));
        var validFor = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(92));
        if (pageSize < 512 || (pageSize & (pageSize - 1)) != 0)
            return new(JournalFileState.Corrupt, file, "not a SQLite database (bad page size)");
        // The header's page count is valid (a hot rollback journal or a WAL may still change the file: SQLite's to judge) when its version-valid-for equals the change counter (SQLite file format §1.3.7).
        if (validFor == changeCounter && pages > 0 && info.Length < (long)pages * pageSize && !File.Exists(file + "-wal") && !File.Exists(file + "-journal"))
            return new(JournalFileState.Corrupt, file, $"truncated: {info.Length} bytes, its header says {(long)pages * pageSize}");
        // A hot rollback journal (or a WAL) left by a kill would be rolled back (or checkpointed) into the file by any
        // connection that opens it: check a copy then, so that a file found damaged is left exactly as it was.
        var companions = Companions.Where(c => File.Exists(file + c)).ToList();
        if (companions.Count == 0) return QuickCheck(file, file);
        var dir = Directory.CreateTempSubdirectory("minimind-journal-check-");
        try
        {
            var copy = Path.Combine(dir.FullName, Path.GetFileName(file));
            File.Copy(file, copy);
            foreach (var c in companions) File.Copy(file + c, copy + c);
            return QuickCheck(copy, file);
        }
        finally { dir.Delete(recursive: true); }
    }

    /// <summary>SQLite's own verdict on <paramref name="path"/> (<paramref name="file"/>: the name reported).</summary>
    static JournalFileCheck QuickCheck(string path, string file)
    {
        try
        {
            using var c = Open(path);
            using var cmd = c.CreateCommand();
            cmd.CommandText = "PRAGMA quick_check(3)";
            using var r = cmd.ExecuteReader();
            var problems = new List<string>();
            while (r.Read()) problems.Add(r.GetString(0));
            if (problems is not ["ok"]) return new(JournalFileState.Corrupt, file, OneLine(string.Join("; ", problems)));
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26)   // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            return new(JournalFileState.Corrupt, file, OneLine(e.Message));
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6)     // busy or locked: in use by another run, not damaged
        {
            return new(JournalFileState.Usable, file);
        }
        return new(JournalFileState.Usable, file);
    }

    /// <summary>True when the journal holds an event of any of <paramref name="persistenceIds"/> (a usable file assumed;
    /// a file without the journal table holds none).</summary>
    public static bool HasEvents(string file, params string[] persistenceIds)
    {
        if (!File.Exists(file) || new FileInfo(file).Length == 0) return false;
        using var c = Open(file);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal'";
        if (Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) == 0) return false;
        var names = persistenceIds.Select((_, i) => $"$p{i}").ToList();
        cmd.CommandText = $"SELECT EXISTS (SELECT 1 FROM journal WHERE persistence_id IN ({string.Join(", ", names)}))";
        for (var i = 0; i < persistenceIds.Length; i++) cmd.Parameters.AddWithValue(names[i], persistenceIds[i]);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) != 0;
    }

    /// <summary>Moves a damaged journal (and its companion files) aside as <c>&lt;file&gt;.corrupt-&lt;UTC time&gt;</c>:
    /// nothing is deleted. Returns the new name of the journal file.</summary>
    public static string SetAside(string file, DateTimeOffset now)
    {
        var suffix = ".corrupt-" + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var target = file + suffix;
        for (var n = 2; File.Exists(target); n++) target = $"{file}{suffix}-{n}";
        File.Move(file, target);
        foreach (var c in Companions)
            if (File.Exists(file + c)) File.Move(file + c, target + c);
        return target;
    }

    /// <summary>SQLite's report on one line, without its "*** in database main ***" banner.</summary>
    static string OneLine(string text) =>
        string.Join("; ", text.Replace("*** in database main ***", "", StringComparison.Ordinal)
            .Split(['\n', '\r', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    static SqliteConnection Open(string file)
    {
        // Pooling off: the file is renamed or opened by the node right after this check.
        var c = new SqliteConnection($"Data Source={file};Mode=ReadWrite;Default Timeout=5;Pooling=False");
        c.Open();
        return c;
    }
}
