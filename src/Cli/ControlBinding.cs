using System.Net;
using System.Net.Sockets;
using MiniMind.Cluster.Control;
using MiniMind.Cluster.Nodes;

namespace MiniMind.Cli;

/// <summary><c>train --control host:port|off</c>: where a training process serves <c>ctl</c>, /metrics and the
/// dashboard. The default port falls back to a free one when it is busy (another run, a seed), said in the header; a
/// port given explicitly must be free (exit 2 naming it).</summary>
sealed record ControlBinding(string? Address, bool Explicit, string? Token)
{
    public const string Default = "127.0.0.1:5471";

    public static ControlBinding Parse(string? value, bool isExplicit, string? token)
    {
        if (value is null || value.Equals("off", StringComparison.OrdinalIgnoreCase)) return new(null, isExplicit, token);
        var address = Commands.NodeCommands.CheckHostPort(value, "--control", anyPort: true);
        ControlAuth.ValidateBinding(NodeHost.ControlHostName(address), token);
        return new(address, isExplicit, token);
    }

    /// <summary>The address to bind (null: off) and a note for the header when it is not the one asked for.</summary>
    public (string? Address, string Note) Resolve()
    {
        if (Address is null) return (null, "");
        var host = NodeHost.ControlHostName(Address);
        var port = int.Parse(Address[(Address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        if (port == 0 || IsFree(host, port)) return (Address, "");
        if (Explicit)
            throw new ArgumentException($"--control {Address}: the port is in use (another train or seed?); pick another one, {host}:0 for any free port, or --control off");
        return ($"{(host.Contains(':') ? $"[{host}]" : host)}:0", $" ({Address} is busy: a free port instead)");
    }

    /// <summary>The address to retry on when binding <paramref name="tried"/> failed: any free port, unless the port was
    /// given explicitly (or was already "any").</summary>
    public string? Fallback(string tried)
    {
        if (Explicit || tried.EndsWith(":0", StringComparison.Ordinal)) return null;
        var host = NodeHost.ControlHostName(tried);
        return $"{(host.Contains(':') ? $"[{host}]" : host)}:0";
    }

    static bool IsFree(string host, int port)
    {
        var ip = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed : IPAddress.Any;
        var probe = new TcpListener(ip, port);
        try
        {
            probe.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            probe.Stop();
        }
    }
}
