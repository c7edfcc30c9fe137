using System.Diagnostics;
using System.Security.Cryptography;
using MiniMind.Cluster.Security;
using Xunit;

namespace MiniMind.Cluster.Tests.Security;

/// <summary><c>--cluster-secret</c> (issue 18): the cluster CA derived from one shared secret. Nodes holding the same
/// secret trust each other's node certificates (signed in memory at start); another secret's, or a certificate-file
/// cluster's, are refused both ways.</summary>
public sealed class SecretAuthorityTests(ITestOutputHelper output) : IDisposable
{
    readonly string dir = TestRuns.TempRunDir("secret");
    static readonly byte[] Secret = "correct-horse-battery-staple-0123456789"u8.ToArray();
    static readonly byte[] Other = "another-cluster-entirely-9876543210-xyz"u8.ToArray();

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public void Two_nodes_with_the_same_secret_should_trust_each_other_and_refuse_another_secret_s_node()
    {
        using var seed = ClusterCredentials.FromSecret(Secret, "test", "seed");
        using var worker = ClusterCredentials.FromSecret(Secret, "test", "worker");
        using var stranger = ClusterCredentials.FromSecret(Other, "test", "worker");

        Assert.True(seed.Certificate.HasPrivateKey);
        Assert.False(seed.Authority.HasPrivateKey);   // the CA key is not kept once the node certificate is signed
        Assert.True(seed.IsTrusted(worker.Certificate, out var why), why);
        Assert.True(worker.IsTrusted(seed.Certificate, out why), why);
        Assert.NotEqual(seed.Fingerprint, worker.Fingerprint);
        Assert.False(seed.IsTrusted(stranger.Certificate, out why));
        Assert.Contains("not signed by the cluster CA", why, StringComparison.Ordinal);
        Assert.False(stranger.IsTrusted(worker.Certificate, out _));
        // signed at start, yet valid from the derived CA's fixed start: a peer whose clock is behind still accepts it
        Assert.Equal(SecretAuthority.NotBefore.UtcDateTime, seed.Certificate.NotBefore.ToUniversalTime());
    }

    [Fact]
    public void A_certificate_file_cluster_and_a_secret_cluster_should_refuse_each_other()
    {
        ClusterSecrets.Create(Path.Combine(dir, "a"), []);
        using var files = ClusterCredentials.Load(Path.Combine(dir, "a"));
        using var secret = ClusterCredentials.FromSecret(Secret, "test", "node");

        Assert.False(files.IsTrusted(secret.Certificate, out var why));
        Assert.Contains("not signed by the cluster CA", why, StringComparison.Ordinal);
        Assert.False(secret.IsTrusted(files.Certificate, out why));
        Assert.Contains("not signed by the cluster CA", why, StringComparison.Ordinal);
    }

    [Fact]
    public void The_derivation_should_be_deterministic_and_take_a_fraction_of_a_second()
    {
        var clock = Stopwatch.StartNew();
        using var a = SecretAuthority.DeriveKey(Secret);
        var elapsed = clock.Elapsed;
        using var b = SecretAuthority.DeriveKey(Secret);
        using var c = SecretAuthority.DeriveKey(Other);
        output.WriteLine($"PBKDF2 ({SecretAuthority.Iterations} iterations) + HKDF: {elapsed.TotalMilliseconds:0} ms");

        Assert.Equal(a.ExportSubjectPublicKeyInfo(), b.ExportSubjectPublicKeyInfo());
        Assert.NotEqual(a.ExportSubjectPublicKeyInfo(), c.ExportSubjectPublicKeyInfo());
        var data = "signed by one, verified by the other"u8.ToArray();
        Assert.True(b.VerifyData(data, a.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));   // the same private key
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"derivation took {elapsed.TotalMilliseconds:0} ms");   // < 0.5 s unloaded; 2 cores shared in CI

        using var ca1 = SecretAuthority.CreateAuthority(Secret);
        using var ca2 = SecretAuthority.CreateAuthority(Secret);
        Assert.Equal(ca1.SubjectName.RawData, ca2.SubjectName.RawData);
        Assert.Equal(ca1.SerialNumber, ca2.SerialNumber);
        Assert.Equal(ca1.PublicKey.ExportSubjectPublicKeyInfo(), ca2.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(SecretAuthority.NotAfter, new DateTimeOffset(ca1.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public void A_short_secret_an_unset_variable_or_a_missing_file_should_fail_naming_the_flag()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => SecretAuthority.Read(Path.Combine(dir, "nope")));
        Assert.StartsWith($"--cluster-secret {Path.Combine(dir, "nope")}: no such file", missing.Message, StringComparison.Ordinal);

        var unset = Assert.Throws<ArgumentException>(() => SecretAuthority.Read("env:MINIMIND_TEST_NO_SUCH_SECRET_VARIABLE"));
        Assert.StartsWith("--cluster-secret env:MINIMIND_TEST_NO_SUCH_SECRET_VARIABLE:", unset.Message, StringComparison.Ordinal);
        Assert.Contains("MINIMIND_TEST_NO_SUCH_SECRET_VARIABLE is not set", unset.Message, StringComparison.Ordinal);

        var file = Path.Combine(dir, "short.secret");
        File.WriteAllText(file, "  only-twenty-characters\n");
        var shortOne = Assert.Throws<InvalidDataException>(() => SecretAuthority.Read(file, "--cluster-secret", null));
        Assert.StartsWith($"--cluster-secret {file}:", shortOne.Message, StringComparison.Ordinal);
        Assert.Contains("at least 32 random characters", shortOne.Message, StringComparison.Ordinal);
        Assert.Contains("init-secrets --secret", shortOne.Message, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes are POSIX's; the tests run on Linux
    public void Init_secrets_secret_should_write_an_owner_only_file_that_reads_back_and_refuse_to_overwrite_it()
    {
        var file = SecretAuthority.Create(Path.Combine(dir, "s"));

        Assert.Equal(Path.Combine(dir, "s", "cluster.secret"), file);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var text = File.ReadAllText(file);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.True(text.Trim().Length >= 32, text);
        var warnings = new List<string>();
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(text.Trim()), SecretAuthority.Read(file, warn: warnings.Add));
        Assert.Empty(warnings);
        Assert.NotEqual(text, File.ReadAllText(SecretAuthority.Create(Path.Combine(dir, "t"))));   // random, not fixed

        var again = Assert.Throws<ArgumentException>(() => SecretAuthority.Create(Path.Combine(dir, "s")));
        Assert.Contains("already exists", again.Message, StringComparison.Ordinal);
        Assert.Equal(text, File.ReadAllText(file));

        // readable by others: used, with one warning
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        SecretAuthority.Read(file, warn: warnings.Add);
        Assert.Contains("readable by group or others", Assert.Single(warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void A_secret_from_an_environment_variable_should_be_trimmed()
    {
        var name = $"MINIMIND_TEST_SECRET_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(name, "  " + System.Text.Encoding.UTF8.GetString(Secret) + "\n");
        try { Assert.Equal(Secret, SecretAuthority.Read($"env:{name}")); }
        finally { Environment.SetEnvironmentVariable(name, null); }
    }
}
