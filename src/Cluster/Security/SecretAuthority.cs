using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace MiniMind.Cluster.Security;

/// <summary>
/// <c>--cluster-secret &lt;file|env:VAR&gt;</c> (issue 18): one shared secret instead of certificate files. The cluster
/// CA's private key is derived from it: seed = PBKDF2-SHA256(secret, <see cref="Salt"/>, <see cref="Iterations"/>) (slows
/// offline guessing), then the P-256 scalar d = HKDF-Expand(seed, "P-256 scalar " + counter) for the first counter with
/// 0 &lt; d &lt; n. Every node holding the secret derives the same CA key and signs a node certificate of its own in memory
/// at start (<see cref="ClusterCredentials.FromSecret"/>); nothing is written to disk. Anyone with the secret can mint
/// members: it is the whole cluster's key.
/// </summary>
public static class SecretAuthority
{
    public const string FileName = "cluster.secret";
    public const int MinimumLength = 32;
    public const int Iterations = 200_000;
    public const string Subject = "CN=MiniMind cluster CA (secret)";
    static readonly byte[] Salt = Encoding.ASCII.GetBytes("MiniMind.Actors cluster CA v1");

    /// <summary>The fixed validity of the derived CA certificate: clocks of the nodes never matter.</summary>
    public static readonly DateTimeOffset NotBefore = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), NotAfter = new(2120, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The order n of P-256's base point (big-endian).</summary>
    static readonly BigInteger Order = new(Convert.FromHexString("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"), isUnsigned: true, isBigEndian: true);

    /// <summary>The cluster CA's P-256 key, the same for every node holding <paramref name="secret"/>.</summary>
    public static ECDsa DeriveKey(ReadOnlySpan<byte> secret)
    {
        var seed = Rfc2898DeriveBytes.Pbkdf2(secret, Salt, Iterations, HashAlgorithmName.SHA256, 32);
        var d = new byte[32];
        for (var counter = 0; ; counter++)
        {
            HKDF.Expand(HashAlgorithmName.SHA256, seed, d, Encoding.ASCII.GetBytes($"P-256 scalar {counter}"));
            var scalar = new BigInteger(d, isUnsigned: true, isBigEndian: true);
            if (scalar > 0 && scalar < Order) break;
        }
        var key = ECDsa.Create();
        key.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });   // Q is computed from D
        CryptographicOperations.ZeroMemory(d);
        CryptographicOperations.ZeroMemory(seed);
        return key;
    }

    /// <summary>The derived cluster CA, with its private key (to sign node certificates). Its serial comes from the
    /// public key; its signature is randomized (ECDSA), so two nodes' CA certificates differ in bytes but not in subject
    /// or key: a node certificate signed by one chains to the other.</summary>
    public static X509Certificate2 CreateAuthority(ReadOnlySpan<byte> secret)
    {
        using var key = DeriveKey(secret);
        var serial = SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..16];
        serial[0] &= 0x7F;
        return ClusterSecrets.CreateAuthority(key, Subject, NotBefore, NotAfter, serial);
    }

    /// <summary>Reads <c>--cluster-secret</c>: <c>env:NAME</c> (that environment variable) or a file, trimmed of surrounding
    /// whitespace. Errors name <paramref name="flag"/>: an unset variable is an <see cref="ArgumentException"/> (exit 2), a
    /// missing or unreadable file a <see cref="FileNotFoundException"/> / <see cref="InvalidDataException"/> and a secret
    /// shorter than <see cref="MinimumLength"/> an <see cref="InvalidDataException"/> (exit 3). A file that group or others
    /// may read is used, with one line to <paramref name="warn"/>.</summary>
    public static byte[] Read(string source, string flag = "--cluster-secret", Action<string>? warn = null)
    {
        string text, what;
        var exposed = false;
        if (source.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = source[4..];
            what = $"environment variable {name}";
            text = Environment.GetEnvironmentVariable(name) ?? "";
            if (name.Length == 0 || text.Trim().Length == 0) throw new ArgumentException($"{flag} {source}: the {what} is not set or empty");
        }
        else
        {
            what = source;
            if (!File.Exists(source))
                throw new FileNotFoundException($"{flag} {source}: no such file (make one with `minimind node init-secrets --secret --out <dir>`)");
            try { text = File.ReadAllText(source); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidDataException($"{flag} {source}: cannot read it ({e.Message})", e); }
            exposed = !OperatingSystem.IsWindows() && (File.GetUnixFileMode(source) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0;
        }
        var secret = text.Trim();
        if (secret.Length < MinimumLength)
            throw new InvalidDataException($"{flag} {source}: the secret in the {what} has {secret.Length} characters; use at least {MinimumLength} random characters; make one with `minimind node init-secrets --secret --out <dir>`");
        if (exposed) warn?.Invoke($"warning: {flag} {source}: the file is readable by group or others; anyone who reads it can join the cluster (chmod 600 it)");
        return Encoding.UTF8.GetBytes(secret);
    }

    /// <summary><c>init-secrets --secret --out &lt;dir&gt;</c>: writes <c>&lt;dir&gt;/cluster.secret</c> (32 random bytes,
    /// base64url, a newline) with mode 0600; an existing file is refused (<see cref="ArgumentException"/>).</summary>
    public static string Create(string outDir)
    {
        var file = Path.Combine(outDir, FileName);
        if (File.Exists(file)) throw new ArgumentException($"--out {outDir}: {file} already exists (every node of a cluster needs the same secret: copy that one, or pick another --out)");
        Directory.CreateDirectory(outDir);
        ClusterSecrets.WriteOwnerOnly(file, System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)) + "\n");
        return file;
    }
}
