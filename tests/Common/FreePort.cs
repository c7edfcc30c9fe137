using System.Net;
using System.Net.Sockets;

namespace MiniMind.Tests.Common;

public static class FreePort
{
    /// <summary>A loopback TCP port that was free a moment ago (the OS picked it).</summary>
    public static int Pick()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
