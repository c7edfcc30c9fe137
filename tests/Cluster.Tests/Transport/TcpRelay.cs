using System.Net;
using System.Net.Sockets;

namespace MiniMind.Cluster.Tests.Transport;

/// <summary>A loopback TCP relay between a bulk sender and receiver, to break the wire in tests: it can flip one
/// byte of the sender→receiver stream at a given offset, or freeze (stop forwarding in both directions, like a hung peer).</summary>
sealed class TcpRelay : IAsyncDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly CancellationTokenSource _stop = new();
    readonly List<Socket> _sockets = [];
    readonly Task _accept;
    readonly int _targetPort;
    readonly byte _corruptMask;
    readonly TaskCompletionSource _unfrozen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long _forwarded;
    volatile bool _frozen;

    /// <param name="corruptMask">the bits flipped in the byte at <paramref name="corruptAt"/>.</param>
    public TcpRelay(int targetPort, long corruptAt = -1, byte corruptMask = 0x5A)
    {
        _targetPort = targetPort;
        CorruptAt = corruptAt;
        _corruptMask = corruptMask;
        _listener.Start();
        _accept = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Offset in the sender→receiver stream whose byte is flipped (−1: none).</summary>
    public long CorruptAt { get; }

    public long Forwarded => Interlocked.Read(ref _forwarded);

    readonly MemoryStream _recorded = new();

    /// <summary>Every byte the sender sent through the relay so far (to replay it in a test).</summary>
    public byte[] Recorded
    {
        get { lock (_recorded) return _recorded.ToArray(); }
    }

    public void Freeze() => _frozen = true;

    async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                lock (_sockets) { _sockets.Add(client); _sockets.Add(server); }
                _ = PumpAsync(client, server, upstream: true);
                _ = PumpAsync(server, client, upstream: false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    async Task PumpAsync(Socket from, Socket to, bool upstream)
    {
        var buffer = new byte[64 * 1024];
        long offset = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, _stop.Token);
                if (n == 0) { to.Shutdown(SocketShutdown.Send); return; }
                if (_frozen) await _unfrozen.Task.WaitAsync(_stop.Token);
                if (upstream && CorruptAt >= offset && CorruptAt < offset + n) buffer[CorruptAt - offset] ^= _corruptMask;
                offset += n;
                if (upstream) Interlocked.Add(ref _forwarded, n);
                if (upstream) lock (_recorded) _recorded.Write(buffer, 0, n);
                for (var sent = 0; sent < n;) sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets) foreach (var s in _sockets) s.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
