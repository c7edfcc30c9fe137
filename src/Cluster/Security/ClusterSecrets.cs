using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniMind.Cluster.Security;

/// <summary>
/// <c>minimind node init-secrets --out &lt;dir&gt; [--node NAME]…</c>: a cluster CA and node certificates, made with .NET's
/// own X509 APIs (<see cref="CertificateRequest"/>, ECDSA P-256), every file written with mode 0600:
/// <list type="bullet">
/// <item><c>ca.crt</c>: the cluster CA's certificate (PEM), the only root every node trusts;</item>
/// <item><c>ca.key</c>: its private key (PEM, PKCS#8). Keep it on the machine that issues certificates: a later
/// <c>init-secrets --out</c> the same dir reuses it to add node certificates; no node needs it;</item>
/// <item><c>&lt;name&gt;.pfx</c>: a node certificate with its private key (PKCS#12, no password: the file mode guards it),
/// valid for TLS server and client authentication. One per node, or one for all.</item>
/// </list>
/// </summary>
public static class ClusterSecrets
{
    public const string AuthorityKeyFile = "ca.key";
    const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>What <see cref="Create"/> wrote (or reused).</summary>
    public sealed record Created(string Directory, bool NewAuthority, IReadOnlyList<string> NodeFiles, string AuthorityFingerprint);

    public static Created Create(string outDir, IReadOnlyList<string> nodes, TimeSpan? nodeValidity = null)
    {
        if (nodes.Count == 0) nodes = ["node"];
        foreach (var n in nodes)
            if (n.Length == 0 || n.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || n.StartsWith('.'))
                throw new ArgumentException($"--node {n}: expected a name of letters, digits, '-', '_' or '.'");
        if (nodes.Distinct(StringComparer.Ordinal).Count() != nodes.Count) throw new ArgumentException("--node: a name is given twice");
        Directory.CreateDirectory(outDir);
        var caCrt = Path.Combine(outDir, ClusterCredentials.AuthorityFile);
        var caKey = Path.Combine(outDir, AuthorityKeyFile);
        foreach (var n in nodes)
            if (File.Exists(Path.Combine(outDir, n + ".pfx")))
                throw new ArgumentException($"--node {n}: {Path.Combine(outDir, n + ".pfx")} already exists (pick another name, or another --out)");

        var newAuthority = !File.Exists(caCrt);
        X509Certificate2 authority;
        if (newAuthority)
        {
            if (File.Exists(caKey)) throw new ArgumentException($"--out {outDir}: {caKey} exists without {ClusterCredentials.AuthorityFile}; remove it or use another directory");
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var now = DateTimeOffset.UtcNow;
            authority = CreateAuthority(key, $"CN=MiniMind cluster CA {Guid.NewGuid():N}", now.AddMinutes(-5), now.AddYears(10), RandomSerial());
            WriteOwnerOnly(caKey, key.ExportPkcs8PrivateKeyPem());
            WriteOwnerOnly(caCrt, authority.ExportCertificatePem());
        }
        else
        {
            if (!File.Exists(caKey))
                throw new ArgumentException($"--out {outDir}: holds {ClusterCredentials.AuthorityFile} but not {AuthorityKeyFile}, so it cannot sign node certificates (issue them where the CA key is)");
            try { authority = X509Certificate2.CreateFromPemFile(caCrt, caKey); }
            catch (CryptographicException e) { throw new InvalidDataException($"--out {outDir}: {caCrt} / {caKey} are not a CA certificate and its key ({e.Message})", e); }
        }

        using (authority)
        {
            var written = new List<string>();
            foreach (var name in nodes)
            {
                var file = Path.Combine(outDir, name + ".pfx");
                using var node = IssueNode(authority, name, nodeValidity ?? TimeSpan.FromDays(2 * 365));
                WriteOwnerOnly(file, node.Export(X509ContentType.Pkcs12));
                written.Add(file);
            }
            return new Created(outDir, newAuthority, written, ClusterCredentials.Fingerprint256(authority));
        }
    }

    /// <summary>A cluster CA certificate self-signed with <paramref name="key"/>, with that key: the one builder of both
    /// the CA of <c>init-secrets</c> (random key) and the one derived from <c>--cluster-secret</c> (<see cref="SecretAuthority"/>).</summary>
    internal static X509Certificate2 CreateAuthority(ECDsa key, string subject, DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var signed = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(key), notBefore, notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>16 random bytes, positive as a DER integer.</summary>
    static byte[] RandomSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return serial;
    }

    /// <summary>A node certificate signed by <paramref name="authority"/> (which must hold its private key): TLS server
    /// and client authentication, names <paramref name="name"/>, localhost and the loopback addresses. Valid from
    /// <paramref name="notBefore"/> (default: five minutes ago).</summary>
    public static X509Certificate2 IssueNode(X509Certificate2 authority, string name, TimeSpan validity, DateTimeOffset? notBefore = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=minimind node {name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"), new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        var notAfter = now + validity;
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        using var signed = request.Create(authority, notBefore ?? now.AddMinutes(-5), notAfter, RandomSerial());
        return signed.CopyWithPrivateKey(key);
    }

    internal static void WriteOwnerOnly(string path, string text) => WriteOwnerOnly(path, System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>Created with mode 0600 (never readable by others, not even for a moment); an existing file is refused.</summary>
    static void WriteOwnerOnly(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using var stream = new FileStream(path, options);
        stream.Write(bytes);
        stream.Flush(true);
    }
}
