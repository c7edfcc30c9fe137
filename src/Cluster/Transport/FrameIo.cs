using System.Net.Sockets;
using System.Text;

namespace MiniMind.Cluster.Transport;

/// <summary>Reads and writes whole frames on a stream (used under the caller's own ordering: one reader loop per
/// connection, writes under the connection's write lock).</summary>
internal static class FrameIo
{
    /// <summary>Reads a frame header, then its (small) payload, and checks the payload's hash.</summary>
    public static async Task<(FrameHeader Header, byte[] Payload)> ReadControlAsync(Stream stream, byte[] headerBuffer, CancellationToken ct, FrameCipher? cipher = null)
    {
        var h = await ReadHeaderAsync(stream, headerBuffer, ct).ConfigureAwait(false);
        return (h, await ReadControlPayloadAsync(stream, h, ct, headerBuffer, cipher).ConfigureAwait(false));
    }

    public static async Task<FrameHeader> ReadHeaderAsync(Stream stream, byte[] headerBuffer, CancellationToken ct)
    {
        await stream.ReadExactlyAsync(headerBuffer, ct).ConfigureAwait(false);
        return BulkWire.Read(headerBuffer, int.MaxValue);
    }

    public static async Task<byte[]> ReadControlPayloadAsync(Stream stream, FrameHeader h, CancellationToken ct, byte[]? headerBuffer = null, FrameCipher? cipher = null)
    {
        if (h.Length > BulkWire.MaxControlBytes)
            throw new BulkProtocolException($"{h.Type} frame of {h.Length} bytes exceeds the control-frame limit {BulkWire.MaxControlBytes}");
        if (cipher is not null)
        {
            var sealedFrame = new byte[h.Length + FrameCipher.TagBytes];
            await stream.ReadExactlyAsync(sealedFrame, ct).ConfigureAwait(false);
            return Open(cipher, headerBuffer, sealedFrame);
        }
        var payload = new byte[h.Length];
        await stream.ReadExactlyAsync(payload, ct).ConfigureAwait(false);
        if (BulkWire.Hash(payload) != h.PayloadHash) throw new BulkProtocolException($"{h.Type} frame checksum mismatch: corrupted stream");
        return payload;
    }

    /// <summary>Writes header and payload with the given checksum (<see cref="BulkWire.FrameHash"/>).</summary>
    public static async Task WriteAsync(Stream stream, byte[] headerBuffer, FrameType type, Guid id, ReadOnlyMemory<byte> payload, ulong hash, CancellationToken ct,
        FrameCipher? cipher = null)
    {
        BulkWire.Write(headerBuffer, new FrameHeader(type, id, payload.Length, hash));
        if (cipher is null)
        {
            await stream.WriteAsync(headerBuffer, ct).ConfigureAwait(false);
            if (payload.Length > 0) await stream.WriteAsync(payload, ct).ConfigureAwait(false);
            return;
        }
        var frame = new byte[SealedBytes(payload.Length)];
        SealInto(frame, headerBuffer, payload.Span, cipher);
        await stream.WriteAsync(frame, ct).ConfigureAwait(false);
    }

    public static Task WriteControlAsync(Stream stream, byte[] headerBuffer, FrameType type, Guid id, byte[] payload, CancellationToken ct, FrameCipher? cipher = null) =>
        WriteAsync(stream, headerBuffer, type, id, payload, BulkWire.FrameHash(payload, cipher is not null), ct, cipher);

    // Synchronous twins for the data path: blocking socket calls on a dedicated thread wake once per kernel event,
    // where async calls add an epoll-thread → thread-pool hop each time; on a loaded 2-core box that halved throughput.

    public static FrameHeader ReadHeader(Stream stream, byte[] headerBuffer)
    {
        stream.ReadExactly(headerBuffer);
        return BulkWire.Read(headerBuffer, int.MaxValue);
    }

    public static byte[] ReadControlPayload(Stream stream, FrameHeader h, byte[]? headerBuffer = null, FrameCipher? cipher = null)
    {
        if (h.Length > BulkWire.MaxControlBytes)
            throw new BulkProtocolException($"{h.Type} frame of {h.Length} bytes exceeds the control-frame limit {BulkWire.MaxControlBytes}");
        if (cipher is not null)
        {
            var sealedFrame = new byte[h.Length + FrameCipher.TagBytes];
            stream.ReadExactly(sealedFrame);
            return Open(cipher, headerBuffer, sealedFrame);
        }
        var payload = new byte[h.Length];
        stream.ReadExactly(payload);
        if (BulkWire.Hash(payload) != h.PayloadHash) throw new BulkProtocolException($"{h.Type} frame checksum mismatch: corrupted stream");
        return payload;
    }

    /// <summary>A control frame's payload opened out of its sealed bytes (ciphertext | tag). The tag covers header and
    /// payload: a sealed frame carries no checksum (BulkWire.FrameHash).</summary>
    static byte[] Open(FrameCipher cipher, ReadOnlySpan<byte> header, byte[] sealedFrame)
    {
        var payload = new byte[sealedFrame.Length - FrameCipher.TagBytes];
        cipher.Open(header, sealedFrame, payload);
        return payload;
    }

    /// <param name="scratch">with a cipher: a buffer of at least <see cref="SealedBytes"/> bytes for the sealed frame.</param>
    public static void Write(Stream stream, byte[] headerBuffer, FrameType type, Guid id, ReadOnlySpan<byte> payload, ulong hash,
        FrameCipher? cipher = null, byte[]? scratch = null)
    {
        BulkWire.Write(headerBuffer, new FrameHeader(type, id, payload.Length, hash));
        if (cipher is null)
        {
            stream.Write(headerBuffer);
            if (payload.Length > 0) stream.Write(payload);
            return;
        }
        var size = SealedBytes(payload.Length);
        var frame = scratch is not null && scratch.Length >= size ? scratch : new byte[size];
        SealInto(frame, headerBuffer, payload, cipher);
        stream.Write(frame.AsSpan(0, size));
    }

    /// <summary>Bytes of a sealed frame on the wire: header, ciphertext, tag.</summary>
    public static int SealedBytes(int payloadBytes) => BulkWire.HeaderBytes + payloadBytes + FrameCipher.TagBytes;

    /// <summary>Lays out header | ciphertext | tag in <paramref name="frame"/>, so the whole frame leaves in one write
    /// (one syscall, and the receiver finds the payload behind the header instead of waking for a lone 40-byte segment).</summary>
    static void SealInto(Span<byte> frame, ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, FrameCipher cipher)
    {
        header.CopyTo(frame);
        cipher.Seal(header, payload, frame[BulkWire.HeaderBytes..]);
    }

    public static void WriteControl(Stream stream, byte[] headerBuffer, FrameType type, Guid id, byte[] payload, FrameCipher? cipher = null) =>
        Write(stream, headerBuffer, type, id, payload, BulkWire.FrameHash(payload, cipher is not null), cipher);

    /// <summary>A blocking socket call ran into SO_SNDTIMEO / SO_RCVTIMEO.</summary>
    public static bool IsTimeout(Exception e) =>
        (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock;

    public static int Milliseconds(TimeSpan t) => (int)Math.Clamp(t.TotalMilliseconds, 1, int.MaxValue);

    public static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    public static string Text(byte[] b) => Encoding.UTF8.GetString(b);
}
