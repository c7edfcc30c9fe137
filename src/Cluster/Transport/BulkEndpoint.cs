using System.Globalization;

namespace MiniMind.Cluster.Transport;

/// <summary>Where a <see cref="BulkChannel"/> listens, as "host:port". Small and serializable (two fields), so actors
/// advertise it inside ordinary Akka messages; the bytes themselves never go through remoting.</summary>
public sealed record BulkEndpoint(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses "host:port" (IPv6 as "[::1]:port").</summary>
    public static BulkEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException($"bulk endpoint '{text}': expected host:port with a port in 1..65535");
        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        return new BulkEndpoint(host, port);
    }
}
