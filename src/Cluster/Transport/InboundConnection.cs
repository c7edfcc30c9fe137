using System.ComponentModel;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;

namespace MiniMind.Cluster.Transport;

/// <summary>A connection a peer opened to this node. One loop reads its frames in order: Begin routes a transfer to
/// its actor and allocates the destination array, Data frames are read straight into that array and verified, the
/// last one delivers <see cref="BulkTransferReceived"/> and answers Ack. Anything that goes wrong with one transfer
/// (checksum, refusal, sender abort) drops it, tells its actor <see cref="BulkTransferFailed"/> and answers Nack;
/// anything that breaks the stream drops every open transfer on the connection.</summary>
internal sealed class InboundConnection(BulkChannel channel, Socket socket, BulkChannelOptions options)
{
    sealed class Incoming(Guid id, string topic, byte[] metadata, long total)
    {
        public Guid Id { get; } = id;
        public string Topic { get; } = topic;
        public byte[] Metadata { get; } = metadata;
        public long Total { get; } = total;
        public long Received { get; set; }
        public IActorRef? Target { get; set; }
        public BulkPayload? Payload { get; set; }
        public Memory<byte> Destination { get; set; }
        /// <summary>Refused or failed: its remaining frames are read and discarded until the sender aborts.</summary>
        public bool Dropped { get; set; }
    }

    Stream _stream = new NetworkStream(socket, ownsSocket: true);
    readonly byte[] _readHeader = new byte[BulkWire.HeaderBytes];
    readonly byte[] _writeHeader = new byte[BulkWire.HeaderBytes];
    readonly Dictionary<Guid, Incoming> _open = [];
    BulkEndpoint _from = new(socket.RemoteEndPoint?.ToString() ?? "unknown", 0);
    byte[]? _frameBuffer;
    FrameCipher? _cipher;

    public void Close() => socket.Dispose();

    /// <summary>The connection's read loop; runs on its own thread with blocking reads (see FrameIo).</summary>
    public void Run(CancellationToken shutdown)
    {
        string failure;
        if (options.Tls is not null && !Authenticate()) return;
        try
        {
            socket.ReceiveTimeout = socket.SendTimeout = FrameIo.Milliseconds(options.IoTimeout);
            var hello = FrameIo.ReadHeader(_stream, _readHeader);
            if (hello.Type != FrameType.Hello) throw new BulkProtocolException($"expected a hello frame, got {hello.Type}");
            _from = BulkWire.ParseHello(FrameIo.ReadControlPayload(_stream, hello, _readHeader, _cipher));
            FrameIo.WriteControl(_stream, _writeHeader, FrameType.Hello, Guid.Empty, BulkWire.Hello(channel.Endpoint), _cipher);
            while (true)
            {
                // IoTimeout while a transfer is open; an idle connection is kept for reuse with no limit.
                var idle = _open.Count == 0;
                socket.ReceiveTimeout = idle ? 0 : FrameIo.Milliseconds(options.IoTimeout);
                FrameHeader h;
                try
                {
                    h = FrameIo.ReadHeader(_stream, _readHeader);
                }
                catch (EndOfStreamException) when (idle)
                {
                    failure = "";   // the peer closed an idle connection: nothing lost
                    break;
                }
                if (idle) socket.ReceiveTimeout = FrameIo.Milliseconds(options.IoTimeout);
                switch (h.Type)
                {
                    case FrameType.Begin:
                        OnBegin(h, FrameIo.ReadControlPayload(_stream, h, _readHeader, _cipher));
                        break;
                    case FrameType.Data:
                        OnData(h);
                        break;
                    case FrameType.Abort:
                        OnAbort(h.TransferId, FrameIo.Text(FrameIo.ReadControlPayload(_stream, h, _readHeader, _cipher)));
                        break;
                    default:
                        throw new BulkProtocolException($"unexpected {h.Type} frame from the sender");
                }
            }
        }
        catch (EndOfStreamException)
        {
            failure = shutdown.IsCancellationRequested ? "bulk channel shut down" : $"connection from {_from} closed mid-transfer";
        }
        catch (BulkProtocolException e)
        {
            failure = $"protocol error from {_from}: {e.Message}";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            failure = shutdown.IsCancellationRequested ? "bulk channel shut down"
                : FrameIo.IsTimeout(e) ? $"no data from {_from} for {options.IoTimeout.TotalSeconds:0.###} s (sender stalled)"
                : $"connection from {_from} broke mid-transfer: {e.Message}";
        }
        finally
        {
            socket.Dispose();
            _cipher?.Dispose();
            channel.OnInboundClosed(this);
        }
        foreach (var t in _open.Values)
            if (!t.Dropped) Fail(t, failure);
        _open.Clear();
    }

    /// <summary>Mutual TLS with the cluster certificates (issue 18), before any frame is read: a peer with no certificate,
    /// one of another CA, or no TLS at all (garbage, a replayed capture, forged plain frames) is refused, counted and
    /// logged once per host; its bytes never reach the frame reader, so nothing of it is delivered.</summary>
    bool Authenticate()
    {
        var peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
        string? untrusted = null;
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        try
        {
            socket.ReceiveTimeout = socket.SendTimeout = FrameIo.Milliseconds(options.ConnectTimeout);   // a silent peer cannot hold the thread
            ssl.AuthenticateAsServer(options.Tls!.ServerOptions(requireClient: true, why => untrusted = why));
            // The frame keys, inside the authenticated session (FrameCipher): the peer sends nothing else until we confirm,
            // so no frame bytes can sit in the TLS stream's buffer when we leave it.
            var keys = new byte[FrameCipher.KeyMessageBytes];
            ssl.ReadExactly(keys);
            try { _cipher = FrameCipher.FromKeyMessage(keys, connecting: false); }
            finally { CryptographicOperations.ZeroMemory(keys); }
            ssl.Write([1]);
            ssl.Flush();
            return true;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or ObjectDisposedException or Win32Exception or BulkProtocolException)
        {
            var reason = untrusted ?? (e is BulkProtocolException ? e.Message
                : FrameIo.IsTimeout(e) ? $"no TLS handshake within {options.ConnectTimeout.TotalSeconds:0.###} s"
                : $"TLS handshake failed ({(e.InnerException ?? e).Message})");
            if (options.Rejections is { } r) r.Reject(Security.PeerRejections.Bulk, peer, reason, channel.Log);
            else channel.Log?.Warning("bulk channel {0}: refused peer {1}: {2}", channel.Endpoint, peer, reason);
            ssl.Dispose();
            socket.Dispose();
            channel.OnInboundClosed(this);
            return false;
        }
    }

    void OnBegin(FrameHeader h, byte[] payload)
    {
        var (total, kind, topic, metadata) = BulkWire.ParseBegin(payload);
        if (_open.ContainsKey(h.TransferId)) throw new BulkProtocolException($"transfer {h.TransferId} began twice");
        var route = channel.ResolveTarget(h.TransferId, topic);
        var t = new Incoming(h.TransferId, topic, metadata, total) { Target = route?.Target };
        var limit = Math.Min(options.MaxPayloadBytes, Array.MaxLength);
        string? refusal = null;
        if (t.Target is null) refusal = $"no actor on {channel.Endpoint} expects transfer {h.TransferId} or subscribes to topic '{topic}'";
        else if (total > limit) refusal = $"payload of {total} bytes exceeds the limit of {limit} bytes on {channel.Endpoint}";
        else if (kind == BulkPayloadKind.Float32 && total % sizeof(float) != 0) refusal = $"float32 payload of {total} bytes is not a multiple of 4";
        else if (route!.Destination is { } into)
        {
            if (into.Kind != kind || into.ByteLength != total)
                refusal = $"the receiving actor expects {into.ByteLength} bytes of {into.Kind}, the sender announced {total} bytes of {kind}";
            else
            {
                t.Payload = into;
                t.Destination = into.Floats is { } f ? new FloatBytes(f).Memory : into.Bytes;
            }
        }
        else
        {
            try
            {
                if (kind == BulkPayloadKind.Float32)
                {
                    var floats = GC.AllocateUninitializedArray<float>((int)(total / sizeof(float)));
                    t.Payload = BulkPayload.Of(floats);
                    t.Destination = new FloatBytes(floats).Memory;
                }
                else
                {
                    var bytes = GC.AllocateUninitializedArray<byte>((int)total);
                    t.Payload = BulkPayload.Of(bytes);
                    t.Destination = bytes;
                }
            }
            catch (OutOfMemoryException)
            {
                refusal = $"cannot allocate {total} bytes on {channel.Endpoint}";
            }
        }
        if (refusal is not null)
        {
            channel.Log?.Warning("bulk transfer {0} ('{1}', {2} bytes) from {3} refused: {4}", h.TransferId, topic, total, _from, refusal);
            if (t.Target is not null) Fail(t, refusal);
            t.Dropped = true;
            t.Payload = null;
            Answer(FrameType.Nack, t.Id, refusal);
            if (total > 0) _open[t.Id] = t;
            return;
        }
        if (total == 0) Deliver(t);
        else _open[t.Id] = t;
    }

    /// <summary>The connection's reused frame buffer (a dropped frame's bytes, a sealed frame before it is opened),
    /// at least <paramref name="bytes"/> long.</summary>
    byte[] FrameBuffer(int bytes)
    {
        if (_frameBuffer is null || _frameBuffer.Length < bytes) _frameBuffer = new byte[Math.Max(bytes, options.FrameBytes + FrameCipher.TagBytes)];
        return _frameBuffer;
    }

    void OnData(FrameHeader h)
    {
        if (!_open.TryGetValue(h.TransferId, out var t)) throw new BulkProtocolException($"data frame for unknown transfer {h.TransferId}");
        if (h.Length > t.Total - t.Received)
            throw new BulkProtocolException($"transfer {t.Id}: data frame of {h.Length} bytes at {t.Received} overruns the announced {t.Total} bytes");
        if (t.Dropped)
        {
            var scratch = FrameBuffer(options.FrameBytes);
            for (var left = h.Length + (_cipher is null ? 0 : FrameCipher.TagBytes); left > 0;)
            {
                var n = Math.Min(left, scratch.Length);
                _stream.ReadExactly(scratch.AsSpan(0, n));
                left -= n;
            }
            _cipher?.Skip();
            t.Received += h.Length;
            if (t.Received == t.Total) _open.Remove(t.Id);
            return;
        }
        var start = t.Received;
        var slice = t.Destination.Slice((int)start, h.Length);
        if (_cipher is not null)
        {
            // Ciphertext and tag into the connection's opening buffer, opened into the destination: a forged frame ends
            // the connection (the transfer fails, nothing is delivered).
            var sealedFrame = FrameBuffer(h.Length + FrameCipher.TagBytes).AsSpan(0, h.Length + FrameCipher.TagBytes);
            _stream.ReadExactly(sealedFrame);
            _cipher.Open(_readHeader, sealedFrame, slice.Span);
        }
        else _stream.ReadExactly(slice.Span);
        t.Received += h.Length;
        if (_cipher is null && BulkWire.Hash(slice.Span) != h.PayloadHash)   // a sealed frame's tag was checked above
        {
            var reason = $"checksum mismatch in the frame at bytes {start}..{t.Received} of {t.Total}: corrupted data dropped";
            channel.Log?.Warning("bulk transfer {0} ('{1}') from {2}: {3}", t.Id, t.Topic, _from, reason);
            Fail(t, reason);
            t.Dropped = true;
            t.Payload = null;
            t.Destination = default;
            if (t.Received == t.Total) _open.Remove(t.Id);
            Answer(FrameType.Nack, t.Id, reason);
            return;
        }
        if (t.Received == t.Total)
        {
            _open.Remove(t.Id);
            Deliver(t);
        }
    }

    void OnAbort(Guid id, string reason)
    {
        if (!_open.Remove(id, out var t)) return;   // already complete or dropped: nothing to do
        if (!t.Dropped) Fail(t, $"sender aborted: {reason}");
    }

    void Deliver(Incoming t)
    {
        t.Target!.Tell(new BulkTransferReceived(t.Id, t.Topic, t.Metadata, _from, t.Payload!), ActorRefs.NoSender);
        Answer(FrameType.Ack, t.Id, null);
    }

    void Fail(Incoming t, string reason)
    {
        t.Target?.Tell(new BulkTransferFailed(t.Id, t.Topic, _from, t.Received, t.Total, reason), ActorRefs.NoSender);
        if (t.Target is not null) channel.Log?.Warning("bulk transfer {0} ('{1}') from {2} dropped after {3} of {4} bytes: {5}", t.Id, t.Topic, _from, t.Received, t.Total, reason);
    }

    void Answer(FrameType type, Guid id, string? reason) =>
        FrameIo.WriteControl(_stream, _writeHeader, type, id, reason is null ? [] : FrameIo.Text(reason), _cipher);
}
