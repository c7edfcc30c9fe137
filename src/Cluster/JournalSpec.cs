namespace MiniMind.Cluster;

/// <summary>Where the coordinator's journal lives: <c>sqlite</c> (a file in the run dir, the default),
/// <c>sqlite:&lt;file&gt;</c>, or <c>postgres:&lt;Npgsql connection string&gt;</c>.</summary>
public sealed record JournalSpec(string Provider, string ConnectionString, string Display)
{
    public const string SqliteProvider = "SQLite.MS";       // LinqToDB.ProviderName.SQLiteMS
    public const string PostgresProvider = "PostgreSQL.15";  // LinqToDB.ProviderName.PostgreSQL15

    public bool IsPostgres => Provider == PostgresProvider;

    /// <summary>The SQLite journal's file (absolute), or null for PostgreSQL.</summary>
    public string? SqliteFile { get; init; }

    public static JournalSpec Parse(string? spec, string runDir)
    {
        var s = string.IsNullOrWhiteSpace(spec) ? "sqlite" : spec.Trim();
        if (s == "sqlite") return Sqlite(Path.Combine(runDir, "journal.db"));
        if (s.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return Sqlite(s["sqlite:".Length..]);
        if (s.StartsWith("postgres:", StringComparison.OrdinalIgnoreCase) || s.StartsWith("postgresql:", StringComparison.OrdinalIgnoreCase))
        {
            var conn = s[(s.IndexOf(':') + 1)..];
            if (string.IsNullOrWhiteSpace(conn)) throw new ArgumentException("--journal postgres:<connection string>: the connection string is empty");
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(conn);
            return new JournalSpec(PostgresProvider, conn, $"postgres {builder.Host}:{builder.Port}/{builder.Database}");
        }
        throw new ArgumentException($"--journal {spec}: expected sqlite, sqlite:<file> or postgres:<connection string>");
    }

    static JournalSpec Sqlite(string file)
    {
        var full = Path.GetFullPath(file);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // Several runs (processes) may share one file: a writer waits up to 60 s for another's lock instead of failing.
        return new JournalSpec(SqliteProvider, $"Data Source={full};Default Timeout=60", $"sqlite {full}") { SqliteFile = full };
    }
}
