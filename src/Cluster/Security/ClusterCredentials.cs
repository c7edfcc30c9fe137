using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniMind.Cluster.Security;

/// <summary>
/// A node's cluster identity (issue 18): the cluster CA's certificate (the only root it trusts) and its own node
/// certificate with the private key, both made by <c>minimind node init-secrets</c> (<see cref="ClusterSecrets"/>), or
/// the CA derived from the cluster secret and a node certificate it signs at start (<see cref="FromSecret"/>).
/// Akka.Remote (mutual TLS), the bulk channel (mutual TLS) and the control endpoint (HTTPS) all use it; a peer is a
/// cluster member exactly when its certificate chains to this CA (no system roots, no host name: node certificates
/// travel between machines, and holding one signed by the cluster CA is what membership means).
/// </summary>
public sealed class ClusterCredentials : IDisposable
{
    public const string AuthorityFile = "ca.crt";
    public const string DefaultNodeFile = "node.pfx";

    ClusterCredentials(X509Certificate2 authority, X509Certificate2 certificate, string source)
    {
        Authority = authority;
        Certificate = certificate;
        Source = source;
    }

    /// <summary>The cluster CA (public certificate only).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Where it was loaded from (for the log line; no secret).</summary>
    public string Source { get; }

    /// <summary>SHA-256 fingerprint of this node's certificate (hex, upper case): what <c>ctl --pin</c> takes.</summary>
    public string Fingerprint => Fingerprint256(Certificate);

    public static string Fingerprint256(X509Certificate certificate) => Convert.ToHexString(SHA256.HashData(certificate.GetRawCertData()));

    /// <summary>Loads <c>--cluster-cert</c>: a directory (its <c>node.pfx</c> and <c>ca.crt</c>) or a node's PFX file (the
    /// <c>ca.crt</c> next to it). Errors name <paramref name="flag"/> and the file: <see cref="FileNotFoundException"/> or
    /// <see cref="InvalidDataException"/> (exit 3).</summary>
    public static ClusterCredentials Load(string path, string flag = "--cluster-cert")
    {
        string pfx;
        if (Directory.Exists(path)) pfx = Path.Combine(path, DefaultNodeFile);
        else if (File.Exists(path)) pfx = path;
        else throw new FileNotFoundException($"{flag} {path}: no such file or directory (create one with `minimind node init-secrets --out <dir>`)");
        var dir = Path.GetDirectoryName(Path.GetFullPath(pfx))!;
        var caFile = Path.Combine(dir, AuthorityFile);
        if (!File.Exists(pfx)) throw new FileNotFoundException($"{flag} {path}: no {DefaultNodeFile} in that directory");
        if (!File.Exists(caFile)) throw new FileNotFoundException($"{flag} {path}: no {AuthorityFile} (the cluster CA) next to {Path.GetFileName(pfx)}");
        X509Certificate2 authority, certificate;
        try { authority = X509CertificateLoader.LoadCertificateFromFile(caFile); }
        catch (CryptographicException e) { throw new InvalidDataException($"{flag}: {caFile} is not a certificate ({e.Message})", e); }
        try { certificate = X509CertificateLoader.LoadPkcs12FromFile(pfx, null, X509KeyStorageFlags.Exportable); }
        catch (CryptographicException e)
        {
            authority.Dispose();
            throw new InvalidDataException($"{flag}: {pfx} is not a password-less PKCS#12 node certificate ({e.Message})", e);
        }
        if (!certificate.HasPrivateKey)
        {
            authority.Dispose();
            certificate.Dispose();
            throw new InvalidDataException($"{flag}: {pfx} holds no private key");
        }
        var credentials = new ClusterCredentials(authority, certificate, pfx);
        if (!credentials.IsTrusted(certificate, out var why))
        {
            credentials.Dispose();
            throw new InvalidDataException($"{flag}: {pfx} is not signed by {caFile}: {why}");
        }
        return credentials;
    }

    /// <summary><c>--cluster-secret</c> (<see cref="SecretAuthority"/>): the cluster CA derived from
    /// <paramref name="secret"/> and a node certificate for <paramref name="nodeName"/> signed by it now, in memory (a
    /// new key and fingerprint every start). <paramref name="source"/> names where the secret came from (never the
    /// secret).</summary>
    public static ClusterCredentials FromSecret(ReadOnlySpan<byte> secret, string source, string nodeName)
    {
        using var authority = SecretAuthority.CreateAuthority(secret);
        var name = new string([.. nodeName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-')]).Trim('.', '-');
        // Valid from the CA's own start: a certificate signed now must not look "not yet valid" to a peer whose clock is behind.
        using var issued = ClusterSecrets.IssueNode(authority, name.Length > 0 ? name : "node", TimeSpan.FromDays(2 * 365), SecretAuthority.NotBefore);
        // through PKCS#12, as a --cluster-cert node's certificate is loaded: a key of its own, not the issuer's ephemeral one
        var certificate = X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
        return new ClusterCredentials(X509CertificateLoader.LoadCertificate(authority.RawData), certificate, source);
    }

    /// <summary>True when <paramref name="peer"/> chains to the cluster CA (and is within its validity period); else
    /// <paramref name="reason"/> says why, for the one log line.</summary>
    public bool IsTrusted(X509Certificate? peer, out string reason)
    {
        if (peer is null)
        {
            reason = "it presented no certificate";
            return false;
        }
        using var owned = peer as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(peer.GetRawCertData()) : null;
        var cert = owned ?? (X509Certificate2)peer;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (!chain.Build(cert))
        {
            var status = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct();
            reason = $"certificate '{cert.Subject}' (SHA-256 {Fingerprint256(cert)[..16]}…) is not signed by the cluster CA: {string.Join("; ", status)}";
            return false;
        }
        var root = chain.ChainElements[^1].Certificate;
        if (!root.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span))
        {
            reason = $"certificate '{cert.Subject}' chains to '{root.Subject}', not to the cluster CA";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>TLS server side (bulk channel, control endpoint): this node's certificate; with
    /// <paramref name="requireClient"/> the peer must present a certificate of the cluster CA.</summary>
    public SslServerAuthenticationOptions ServerOptions(bool requireClient, Action<string>? rejected = null) => new()
    {
        ServerCertificate = Certificate,
        ClientCertificateRequired = requireClient,
        EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = requireClient ? (_, cert, _, _) => Check(cert, rejected) : null,
    };

    /// <summary>TLS client side: this node's certificate, and the server must present one of the cluster CA.</summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost, Action<string>? rejected = null) => new()
    {
        TargetHost = targetHost,
        ClientCertificates = [Certificate],
        LocalCertificateSelectionCallback = (_, _, _, _, _) => Certificate,
        EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, cert, _, _) => Check(cert, rejected),
    };

    bool Check(X509Certificate? cert, Action<string>? rejected)
    {
        if (IsTrusted(cert, out var why)) return true;
        rejected?.Invoke(why);
        return false;
    }

    public void Dispose()
    {
        Authority.Dispose();
        Certificate.Dispose();
    }
}
