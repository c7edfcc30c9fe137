using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Event;

namespace MiniMind.Cluster.Security;

/// <summary>
/// Peers a node refused (issue 18): an Akka.Remote association or a bulk channel connection whose TLS handshake failed
/// (no certificate, one of another CA, not TLS at all: garbage, a replayed capture, forged plain frames). Each is
/// counted (shown on <c>/metrics</c> as <c>minimind_peers_rejected_total{channel=…}</c>) and logged as one warning
/// line per channel and peer host, naming the peer and why: a refused worker retries every 2 s and must not flood the log.
/// </summary>
public sealed class PeerRejections
{
    public const string Remoting = "remoting";
    public const string Bulk = "bulk";

    static readonly ConditionalWeakTable<ActorSystem, PeerRejections> Attached = new();

    readonly ConcurrentDictionary<string, long> counts = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, byte> logged = new(StringComparer.Ordinal);

    /// <summary>The node's rejections, once <see cref="Attach"/> ran (null for a system without them, e.g. a test's).</summary>
    public static PeerRejections? For(ActorSystem system) => Attached.TryGetValue(system, out var r) ? r : null;

    public void Attach(ActorSystem system) => Attached.AddOrUpdate(system, this);

    /// <summary>Counts one refused connection on <paramref name="channel"/> and logs it, once per peer host.</summary>
    public void Reject(string channel, string peer, string reason, ILoggingAdapter? log)
    {
        counts.AddOrUpdate(channel, 1, (_, n) => n + 1);
        if (logged.TryAdd($"{channel}|{HostOf(peer)}", 0))
            log?.Warning("{0}: refused peer {1}: {2} (further refusals of this host are counted in /metrics, not logged)",
                channel == Remoting ? "Akka.Remote" : "bulk channel", peer, reason);
    }

    public long Count(string channel) => counts.GetValueOrDefault(channel);

    /// <summary>"[::ffff:10.0.0.7]:51234" / "10.0.0.7:51234" / "akka.ssl.tcp://minimind@10.0.0.7:4053" → the host part.</summary>
    internal static string HostOf(string peer)
    {
        var p = peer.Trim();
        var at = p.LastIndexOf('@');
        if (at >= 0) p = p[(at + 1)..];
        if (p.StartsWith('['))
        {
            var close = p.IndexOf(']', StringComparison.Ordinal);
            return close > 0 ? p[1..close].Replace("::ffff:", "", StringComparison.OrdinalIgnoreCase) : p;
        }
        var colon = p.LastIndexOf(':');
        return colon > 0 && p.IndexOf(':', StringComparison.Ordinal) == colon ? p[..colon] : p;
    }
}
