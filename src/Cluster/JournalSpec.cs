namespace MiniMind.Cluster;

/// <summary>Where the coordinator's journal lives: <c>sqlite</c> (a file in the run dir, the default),
/// <c>sqlite:&lt;file&gt;</c>, or <c>postgres:&lt;Npgsql connection string&gt;</c>. A spec holding a password can stay off the
/// command line (issue 18): <c>env:VAR</c> reads the spec from an environment variable, <c>file:&lt;path&gt;</c> from a file
/// (its first non-empty line; keep it mode 0600). The connection string is never printed: <see cref="Display"/> and
/// <see cref="ToString"/> show host, port and database only, and errors never echo it.</summary>
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
        s = Indirect(s);
        if (s == "sqlite") return Sqlite(Path.Combine(runDir, "journal.db"));
        if (s.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return Sqlite(s["sqlite:".Length..]);
        if (s.StartsWith("postgres:", StringComparison.OrdinalIgnoreCase) || s.StartsWith("postgresql:", StringComparison.OrdinalIgnoreCase))
        {
            var conn = s[(s.IndexOf(':') + 1)..];
            if (string.IsNullOrWhiteSpace(conn)) throw new ArgumentException("--journal postgres:<connection string>: the connection string is empty");
            Npgsql.NpgsqlConnectionStringBuilder builder;
            // Npgsql's messages name a bad keyword, never a value; the spec itself is not repeated (it may hold a password).
            try { builder = new Npgsql.NpgsqlConnectionStringBuilder(conn); }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
            {
                throw new ArgumentException($"--journal postgres:…: not a valid connection string ({e.Message})");
            }
            return new JournalSpec(PostgresProvider, conn, $"postgres {builder.Host}:{builder.Port}/{builder.Database}");
        }
        var colon = s.IndexOf(':');
        throw new ArgumentException($"--journal {(colon < 0 ? s : s[..colon] + ":…")}: expected sqlite, sqlite:<file>, postgres:<connection string>, env:<VAR> or file:<path>");
    }

    /// <summary>The connection string stays out of logs, exceptions and debugger views of the record.</summary>
    public override string ToString() => Display;

    /// <summary><c>env:VAR</c> → the variable's value; <c>file:path</c> → the file's first non-empty line. Errors name the
    /// variable or file, never the value.</summary>
    static string Indirect(string s)
    {
        if (s.StartsWith("env:", StringComparison.OrdinalIgnoreCase))
        {
            var name = s[4..].Trim();
            var value = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"--journal env:{name}: the environment variable {name} is not set or empty");
            return value.Trim();
        }
        if (s.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            var path = s[5..].Trim();
            if (!File.Exists(path)) throw new FileNotFoundException($"--journal file:{path}: no such file", path);
            var line = File.ReadLines(path).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0)
                ?? throw new InvalidDataException($"--journal file:{path}: the file is empty (expected a journal spec such as postgres:<connection string>)");
            return line;
        }
        return s;
    }

    static JournalSpec Sqlite(string file)
    {
        var full = Path.GetFullPath(file);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        // Several runs (processes) may share one file: a writer waits up to 60 s for another's lock instead of failing.
        return new JournalSpec(SqliteProvider, $"Data Source={full};Default Timeout=60", $"sqlite {full}") { SqliteFile = full };
    }
}
