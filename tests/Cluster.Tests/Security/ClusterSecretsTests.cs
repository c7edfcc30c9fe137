using MiniMind.Cluster.Security;
using Xunit;

namespace MiniMind.Cluster.Tests.Security;

/// <summary>`node init-secrets` (issue 18): a CA and node certificates from .NET's X509 APIs, mode 0600, and what a node
/// trusts: exactly the certificates of its cluster CA.</summary>
public sealed class ClusterSecretsTests : IDisposable
{
    readonly string dir = TestRuns.TempRunDir("secrets");

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]   // file modes are POSIX's; the tests run on Linux
    public void Init_secrets_should_write_a_CA_and_node_certificates_readable_by_the_owner_only()
    {
        var created = ClusterSecrets.Create(Path.Combine(dir, "a"), ["seed", "w1"]);

        Assert.True(created.NewAuthority);
        foreach (var file in new[] { "ca.crt", "ca.key", "seed.pfx", "w1.pfx" })
        {
            var path = Path.Combine(dir, "a", file);
            Assert.True(File.Exists(path), path);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        using var seed = ClusterCredentials.Load(Path.Combine(dir, "a", "seed.pfx"));
        using var w1 = ClusterCredentials.Load(Path.Combine(dir, "a", "w1.pfx"));
        Assert.True(seed.Certificate.HasPrivateKey);
        Assert.True(seed.IsTrusted(w1.Certificate, out _));
        Assert.True(w1.IsTrusted(seed.Certificate, out _));
        Assert.NotEqual(seed.Fingerprint, w1.Fingerprint);
    }

    [Fact]
    public void A_second_init_in_the_same_dir_should_reuse_the_CA_and_a_certificate_of_another_CA_should_not_be_trusted()
    {
        var first = ClusterSecrets.Create(Path.Combine(dir, "a"), []);
        var added = ClusterSecrets.Create(Path.Combine(dir, "a"), ["w2"]);
        var other = ClusterSecrets.Create(Path.Combine(dir, "b"), []);

        Assert.False(added.NewAuthority);
        Assert.Equal(first.AuthorityFingerprint, added.AuthorityFingerprint);
        Assert.NotEqual(first.AuthorityFingerprint, other.AuthorityFingerprint);
        using var node = ClusterCredentials.Load(Path.Combine(dir, "a"));   // a directory: its node.pfx
        using var w2 = ClusterCredentials.Load(Path.Combine(dir, "a", "w2.pfx"));
        using var stranger = ClusterCredentials.Load(Path.Combine(dir, "b"));
        Assert.True(node.IsTrusted(w2.Certificate, out _));
        Assert.False(node.IsTrusted(stranger.Certificate, out var why));
        Assert.Contains("not signed by the cluster CA", why, StringComparison.Ordinal);
        Assert.False(node.IsTrusted(null, out why));
        Assert.Contains("no certificate", why, StringComparison.Ordinal);

        var again = Assert.Throws<ArgumentException>(() => ClusterSecrets.Create(Path.Combine(dir, "a"), ["w2"]));
        Assert.Contains("--node w2", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loading_a_missing_or_foreign_node_certificate_should_fail_naming_the_flag()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => ClusterCredentials.Load(Path.Combine(dir, "nope")));
        Assert.StartsWith("--cluster-cert", missing.Message, StringComparison.Ordinal);

        // a node certificate next to another cluster's ca.crt is refused at start, not at the first handshake
        ClusterSecrets.Create(Path.Combine(dir, "a"), []);
        ClusterSecrets.Create(Path.Combine(dir, "b"), []);
        File.Copy(Path.Combine(dir, "b", "ca.crt"), Path.Combine(dir, "mixed-ca.crt"));
        Directory.CreateDirectory(Path.Combine(dir, "mixed"));
        File.Copy(Path.Combine(dir, "b", "ca.crt"), Path.Combine(dir, "mixed", "ca.crt"));
        File.Copy(Path.Combine(dir, "a", "node.pfx"), Path.Combine(dir, "mixed", "node.pfx"));
        var mixed = Assert.Throws<InvalidDataException>(() => ClusterCredentials.Load(Path.Combine(dir, "mixed")));
        Assert.Contains("is not signed by", mixed.Message, StringComparison.Ordinal);
    }
}
