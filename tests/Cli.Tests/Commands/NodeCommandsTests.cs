using MiniMind.Tests.Common;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary><c>--cluster-secret</c> and <c>--cluster-cert</c> on the command line (issue 18), in-process: every error comes before anything binds,
/// names the flag, and has the README's exit code (2 bad flag, 3 bad input file).</summary>
public sealed class NodeCommandsTests : IDisposable
{
    readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    string[] Worker(params string[] extra) => ["node", "worker", "--seed", "127.0.0.1:1", "--device", "cpu", .. extra];

    string[] Seed(params string[] extra) => ["node", "seed", "--port", "1", "--journal", $"sqlite:{dir.File("j.db")}", .. extra];

    static async Task<string> Fails(int code, string[] args)
    {
        var r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == code, $"exit {r.ExitCode}, expected {code}: {r.Out}{r.Error}");
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        return r.Error;
    }

    [Fact]
    public async Task Cluster_secret_with_cluster_cert_or_insecure_is_exit_2_pick_one()
    {
        var secret = dir.Write("cluster.secret", new string('s', 40));
        Assert.Contains("--cluster-cert and --cluster-secret: pick one", await Fails(2, Seed("--cluster-cert", dir.Path, "--cluster-secret", secret)), StringComparison.Ordinal);
        Assert.Contains("--cluster-secret and --insecure: pick one", await Fails(2, Worker("--cluster-secret", secret, "--insecure")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_file_a_short_secret_or_an_unset_variable_fails_naming_the_flag()
    {
        var missing = dir.File("nope.secret");
        Assert.Contains($"--cluster-secret {missing}: no such file", await Fails(3, Worker("--cluster-secret", missing)), StringComparison.Ordinal);
        var shortOne = dir.Write("short.secret", "0123456789abcdef0123456789abcde\n");   // 31 characters
        var error = await Fails(3, Seed("--cluster-secret", shortOne));
        Assert.Contains($"--cluster-secret {shortOne}", error, StringComparison.Ordinal);
        Assert.Contains("at least 32 random characters", error, StringComparison.Ordinal);
        var unset = $"MINIMIND_TEST_UNSET_{Guid.NewGuid():N}";
        Assert.Contains($"--cluster-secret env:{unset}: the environment variable {unset} is not set", await Fails(2, Worker("--cluster-secret", $"env:{unset}")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_cluster_cert_or_ca_is_exit_3_naming_the_flag()
    {
        var missing = dir.File("nope");
        Assert.Contains($"--cluster-cert {missing}: no such file", await Fails(3, Worker("--cluster-cert", missing)), StringComparison.Ordinal);
        Assert.Contains($"--ca {missing}: no such file", await Fails(3, ["ctl", "cluster", "show", "--host", "127.0.0.1:1", "--ca", missing]), StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes are POSIX's; the tests run on Linux
    public async Task Init_secrets_secret_writes_an_owner_only_secret_and_refuses_to_overwrite_it()
    {
        var r = await CliRunner.RunAsync("node", "init-secrets", "--secret", "--out", dir.File("s"));

        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var file = dir.File(Path.Combine("s", "cluster.secret"));
        Assert.Contains($"created the cluster secret {file}", r.Out, StringComparison.Ordinal);
        Assert.Contains("--cluster-secret", r.Out, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var secret = File.ReadAllText(file);
        Assert.True(secret.Trim().Length >= 32, secret);

        Assert.Contains("already exists", await Fails(2, ["node", "init-secrets", "--secret", "--out", dir.File("s")]), StringComparison.Ordinal);
        Assert.Equal(secret, File.ReadAllText(file));
        Assert.Contains("--secret and --node: pick one", await Fails(2, ["node", "init-secrets", "--secret", "--out", dir.File("t"), "--node", "w1"]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctl_takes_at_most_one_of_ca_pin_and_cluster_secret()
    {
        var secret = dir.Write("cluster.secret", new string('s', 40));
        Assert.Contains("--ca and --cluster-secret: pick one",
            await Fails(2, ["ctl", "cluster", "show", "--host", "127.0.0.1:1", "--ca", dir.Path, "--cluster-secret", secret]), StringComparison.Ordinal);
        var missing = dir.File("nope.secret");
        Assert.Contains($"--cluster-secret {missing}: no such file", await Fails(3, ["ctl", "cluster", "show", "--host", "127.0.0.1:1", "--cluster-secret", missing]), StringComparison.Ordinal);
    }
}
