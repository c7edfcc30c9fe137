using MiniMind.Cluster.Control;

namespace MiniMind.Cluster.Security;

/// <summary>How a node authenticates its peers (issue 18): with <see cref="Credentials"/> every port it opens (Akka.Remote,
/// the bulk channel, the control endpoint off loopback) speaks TLS with the cluster certificates, and Akka.Remote and the
/// bulk channel admit only peers whose certificate chains to the cluster CA. Without them the node is open to anyone who
/// reaches its ports: allowed on loopback (one machine's users already own the processes), and off loopback only with
/// <see cref="Insecure"/> (<c>--insecure</c>).</summary>
public sealed record NodeSecurity(ClusterCredentials? Credentials, bool Insecure)
{
    public static NodeSecurity None { get; } = new(null, false);

    public bool Tls => Credentials is not null;

    /// <summary>Refuses a node that binds <paramref name="host"/> off loopback with neither credentials nor
    /// <c>--insecure</c> (ArgumentException naming the flags: exit 2).</summary>
    public void ValidateBinding(string host)
    {
        if (Credentials is null && !Insecure && !ControlAuth.IsLoopback(host))
            throw new ArgumentException(
                $"--host {host}: a node bound off loopback accepts only authenticated peers: pass --cluster-cert <dir|file> " +
                "(made by `minimind node init-secrets --out <dir>`) or --cluster-secret <file|env:VAR> (made by `minimind node init-secrets --secret --out <dir>`), or --insecure to run without authentication or encryption on a trusted network");
    }
}
