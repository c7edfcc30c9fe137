using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;

namespace MiniMind.Cluster.Transport;

/// <summary>The connection this node opened to one peer: carries Begin/Data/Abort frames of any number of concurrent
/// transfers (interleaved frame by frame under a write lock) and reads the peer's Ack/Nack frames on a loop. When it
/// breaks, every transfer on it fails at once and the channel forgets it (the next send reconnects).</summary>
internal sealed class OutboundConnection
{
    readonly Socket _socket;
    readonly Stream _stream;
    readonly BulkChannelOptions _options;
    readonly Action<OutboundConnection> _onClosed;
    readonly SemaphoreSlim _writeLock = new(1, 1);
    readonly byte[] _writeHeader = new byte[BulkWire.HeaderBytes];
    readonly FrameCipher? _cipher;
    readonly byte[]? _sealed;
    readonly ConcurrentDictionary<Guid, TaskCompletionSource<string?>> _pending = new();
    readonly Lock _failLock = new();
    BulkConnectionException? _failure;

    OutboundConnection(BulkEndpoint peer, Socket socket, Stream stream, BulkChannelOptions options, Action<OutboundConnection> onClosed, FrameCipher? cipher)
    {
        _cipher = cipher;
        _sealed = cipher is null ? null : new byte[FrameIo.SealedBytes(options.FrameBytes)];
        Peer = peer;
        _socket = socket;
        _stream = stream;
        _options = options;
        _onClosed = onClosed;
        socket.SendTimeout = FrameIo.Milliseconds(options.IoTimeout);   // bounds every blocking frame write
    }

    public BulkEndpoint Peer { get; }

    public bool IsFailed => Volatile.Read(ref _failure) is not null;

    public static async Task<OutboundConnection> ConnectAsync(BulkEndpoint peer, BulkEndpoint self, BulkChannelOptions options,
        Action<OutboundConnection> onClosed, CancellationToken shutdown)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        timeout.CancelAfter(options.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            BulkWire.Configure(socket, options.SocketBufferBytes);
            await socket.ConnectAsync(peer.Host, peer.Port, timeout.Token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            FrameCipher? cipher = null;
            if (options.Tls is { } tls)
            {
                // Mutual TLS (issue 18): we present the node certificate and accept only a peer of the cluster CA.
                string? untrusted = null;
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                try
                {
                    await ssl.AuthenticateAsClientAsync(tls.ClientOptions(peer.Host, why => untrusted = why), timeout.Token).ConfigureAwait(false);
                    // Fresh frame keys inside the authenticated session (FrameCipher); frames follow only after the peer's
                    // confirmation, so none can sit in its TLS stream's buffer.
                    var keys = FrameCipher.NewKeyMessage();
                    try
                    {
                        await ssl.WriteAsync(keys, timeout.Token).ConfigureAwait(false);
                        await ssl.FlushAsync(timeout.Token).ConfigureAwait(false);
                        var confirmed = new byte[1];
                        await ssl.ReadExactlyAsync(confirmed, timeout.Token).ConfigureAwait(false);
                        cipher = FrameCipher.FromKeyMessage(keys, connecting: true);
                    }
                    finally { CryptographicOperations.ZeroMemory(keys); }
                }
                catch (Exception e) when (e is AuthenticationException or IOException)
                {
                    await ssl.DisposeAsync().ConfigureAwait(false);
                    throw new BulkConnectionException($"cannot connect to bulk peer {peer}: TLS handshake failed: {untrusted ?? (e.InnerException ?? e).Message}", e);
                }
            }
            var header = new byte[BulkWire.HeaderBytes];
            await FrameIo.WriteControlAsync(stream, header, FrameType.Hello, Guid.Empty, BulkWire.Hello(self), timeout.Token, cipher).ConfigureAwait(false);
            var (h, payload) = await FrameIo.ReadControlAsync(stream, header, timeout.Token, cipher).ConfigureAwait(false);
            if (h.Type != FrameType.Hello) throw new BulkProtocolException($"expected a hello frame, got {h.Type}");
            BulkWire.ParseHello(payload);
            var connection = new OutboundConnection(peer, socket, stream, options, onClosed, cipher);
            new Thread(connection.ReadLoop) { IsBackground = true, Name = $"bulk acks from {peer}" }.Start();
            return connection;
        }
        catch (OperationCanceledException) when (!shutdown.IsCancellationRequested)
        {
            socket.Dispose();
            throw new BulkConnectionException($"cannot connect to bulk peer {peer}: no hello within {options.ConnectTimeout.TotalSeconds:0.###} s");
        }
        catch (Exception e) when (e is SocketException or IOException or BulkProtocolException)
        {
            socket.Dispose();
            throw new BulkConnectionException($"cannot connect to bulk peer {peer}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Registers a transfer; its task completes with null on Ack, the reason on Nack, or faults with a
    /// <see cref="BulkConnectionException"/> when the connection breaks.</summary>
    public Task<string?> Open(Guid id)
    {
        var tcs = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_pending.TryAdd(id, tcs)) throw new InvalidOperationException($"bulk transfer {id} is already in flight to {Peer}");
        lock (_failLock)
            if (_failure is not null) tcs.TrySetException(_failure);
        return tcs.Task;
    }

    public void Close(Guid id) => _pending.TryRemove(id, out _);

    /// <summary>Writes one frame, blocking (call it from the sending thread). A write error or a write that makes no
    /// progress for IoTimeout (SO_SNDTIMEO) fails the connection.</summary>
    public void WriteFrame(FrameType type, Guid id, ReadOnlySpan<byte> payload)
    {
        var hash = BulkWire.FrameHash(payload, _cipher is not null);   // outside the lock: concurrent transfers hash in parallel
        _writeLock.Wait();
        try
        {
            ThrowIfFailed();
            try
            {
                FrameIo.Write(_stream, _writeHeader, type, id, payload, hash, _cipher, _sealed);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                if (FrameIo.IsTimeout(e)) Fail($"no progress writing to {Peer} for {_options.IoTimeout.TotalSeconds:0.###} s (peer stalled)", null);
                else Fail($"connection to {Peer} broke: {e.Message}", e);
            }
            ThrowIfFailed();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Tells the receiver to drop a transfer; best effort (a broken connection drops it anyway).</summary>
    public void TryAbort(Guid id, string reason)
    {
        try { WriteFrame(FrameType.Abort, id, FrameIo.Text(reason)); }
        catch (BulkConnectionException) { }
    }

    void ThrowIfFailed()
    {
        var failure = Volatile.Read(ref _failure);
        if (failure is not null) throw failure;
    }

    /// <summary>Reads the receiver's Ack/Nack frames (blocking, on its own thread) and completes the transfers' answers.</summary>
    void ReadLoop()
    {
        var header = new byte[BulkWire.HeaderBytes];
        try
        {
            while (true)
            {
                var h = FrameIo.ReadHeader(_stream, header);
                var payload = FrameIo.ReadControlPayload(_stream, h, header, _cipher);
                if (h.Type is not (FrameType.Ack or FrameType.Nack)) throw new BulkProtocolException($"unexpected {h.Type} frame from the receiver");
                if (_pending.TryGetValue(h.TransferId, out var tcs))
                    tcs.TrySetResult(h.Type == FrameType.Ack ? null : FrameIo.Text(payload));
            }
        }
        catch (EndOfStreamException e)
        {
            Fail($"connection closed by {Peer}", e);
        }
        catch (BulkProtocolException e)
        {
            Fail($"protocol error from {Peer}: {e.Message}", e);
        }
        catch (Exception e)
        {
            Fail($"connection to {Peer} broke: {e.Message}", e);
        }
    }

    /// <summary>Closes the socket and fails every open transfer with <paramref name="reason"/> (first reason wins).</summary>
    public void Fail(string reason, Exception? inner)
    {
        BulkConnectionException failure;
        lock (_failLock)
        {
            if (_failure is not null) return;
            failure = inner is null ? new BulkConnectionException(reason) : new BulkConnectionException(reason, inner);
            Volatile.Write(ref _failure, failure);
        }
        _socket.Dispose();
        foreach (var tcs in _pending.Values) tcs.TrySetException(failure);
        _onClosed(this);
    }
}

/// <summary>A connection-level failure; <see cref="BulkChannel"/> wraps it in a <see cref="BulkTransferException"/>
/// naming the transfer.</summary>
internal sealed class BulkConnectionException : Exception
{
    public BulkConnectionException(string message) : base(message) { }

    public BulkConnectionException(string message, Exception inner) : base(message, inner) { }
}
