using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MiniMind.Tests.Common;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>A throwaway PostgreSQL 15 cluster in a temp dir on a free loopback port, for the journal tests.
/// Root cannot run postgres, so as root it runs initdb/pg_ctl as the <c>postgres</c> user (runuser).
/// If PostgreSQL cannot start, the fixture throws: the tests FAIL, they never skip.
/// Needs: the postgresql-15 Debian package (binaries in /usr/lib/postgresql/15/bin, or PG_BIN).</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    readonly string bin = Environment.GetEnvironmentVariable("PG_BIN") ?? "/usr/lib/postgresql/15/bin";
    string dir = "";

    public int Port { get; private set; }

    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Pooling=true";

    static bool IsRoot => Environment.UserName == "root";

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Path.Combine(bin, "initdb")))
            throw new InvalidOperationException($"PostgreSQL 15 not found in {bin}. Install postgresql-15 (apt-get install postgresql-15) or set PG_BIN.");
        dir = Path.Combine(Path.GetTempPath(), $"minimind-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        if (IsRoot) await Run("/bin/chown", $"postgres:postgres {dir}", asPostgres: false);
        Port = FreePort.Pick();
        var data = Path.Combine(dir, "data");
        await Run(Path.Combine(bin, "initdb"), $"-D {data} -U postgres -A trust -E UTF8 --no-sync", asPostgres: IsRoot);
        await Run(Path.Combine(bin, "pg_ctl"),
            $"-D {data} -l {Path.Combine(dir, "log")} -w -t 60 -o \"-p {Port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off\" start", asPostgres: IsRoot);
    }

    public async ValueTask DisposeAsync()
    {
        if (dir.Length == 0) return;
        try { await Run(Path.Combine(bin, "pg_ctl"), $"-D {Path.Combine(dir, "data")} -m immediate -w stop", asPostgres: IsRoot); }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }


    static async Task Run(string exe, string args, bool asPostgres)
    {
        var psi = asPostgres
            ? new ProcessStartInfo("/usr/sbin/runuser", $"-u postgres -- {exe} {args}")
            : new ProcessStartInfo(exe, args);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/tmp";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(exe)} {args} failed ({p.ExitCode}): {await stderr}{await stdout}");
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
