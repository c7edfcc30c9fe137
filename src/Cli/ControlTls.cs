using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MiniMind.Cluster.Security;

namespace MiniMind.Cli;

/// <summary><c>ctl --ca &lt;ca.crt|dir&gt;</c> / <c>--pin &lt;sha256&gt;</c> / <c>--cluster-secret &lt;file|env:VAR&gt;</c>
/// (issue 18): HTTPS to a node started with <c>--cluster-cert</c> or <c>--cluster-secret</c>. The endpoint's certificate
/// must chain to the cluster CA (from ca.crt, or derived from the secret as the nodes derive it; host names are not
/// checked: node certificates move between machines; the CA is private to the cluster), or have exactly the pinned
/// fingerprint.</summary>
sealed class ControlTls
{
    readonly X509Certificate2? authority;
    readonly string? pin;

    ControlTls(X509Certificate2? authority, string? pin)
    {
        this.authority = authority;
        this.pin = pin;
    }

    /// <summary>Null when none is given (plain HTTP). Errors name the flag (exit 2 for a malformed pin or an unset
    /// variable, 3 for a bad file or a short secret).</summary>
    public static ControlTls? From(string? ca, string? pin, string? secret = null)
    {
        if (!CommonOptions.AtMostOne(("--ca", ca is not null), ("--pin", pin is not null), ("--cluster-secret", secret is not null))) return null;
        if (secret is not null)
        {
            using var derived = SecretAuthority.CreateAuthority(SecretAuthority.Read(secret, "--cluster-secret"));
            return new ControlTls(X509CertificateLoader.LoadCertificate(derived.RawData), null);
        }
        if (pin is not null)
        {
            var hex = pin.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant();
            if (hex.Length != 64 || !hex.All(Uri.IsHexDigit)) throw new ArgumentException($"--pin {pin}: expected a SHA-256 fingerprint (64 hex digits)");
            return new ControlTls(null, hex);
        }
        var file = Directory.Exists(ca) ? Path.Combine(ca!, ClusterCredentials.AuthorityFile) : ca!;
        if (!File.Exists(file)) throw new FileNotFoundException($"--ca {ca}: no such file (the cluster's {ClusterCredentials.AuthorityFile})");
        try { return new ControlTls(X509CertificateLoader.LoadCertificateFromFile(file), null); }
        catch (CryptographicException e) { throw new InvalidDataException($"--ca {ca}: {file} is not a certificate ({e.Message})", e); }
    }

    public HttpMessageHandler Handler() => new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
            RemoteCertificateValidationCallback = (_, cert, _, _) => Verify(cert),
        },
    };

    bool Verify(X509Certificate? cert)
    {
        if (cert is null) return false;
        if (pin is not null) return ClusterCredentials.Fingerprint256(cert) == pin;
        using var c2 = X509CertificateLoader.LoadCertificate(cert.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        return chain.Build(c2) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(authority!.RawDataMemory.Span);
    }

    /// <summary>Why the TLS handshake failed, when this handler refused the endpoint's certificate (else null).</summary>
    public static string? Refusal(HttpRequestException e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is AuthenticationException) return $"TLS handshake failed: its certificate is not of the cluster CA given with --ca or --cluster-secret, or not the --pin fingerprint ({x.Message}). " +
                                                       "HINT: check --ca/--cluster-secret/--pin against the node's --cluster-cert or --cluster-secret";
        return null;
    }
}
