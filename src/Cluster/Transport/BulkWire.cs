using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace MiniMind.Cluster.Transport;

/// <summary>Frame types of the bulk wire protocol (README.md, "Wire protocol").</summary>
internal enum FrameType : byte
{
    Hello = 1,   // both directions, first frame: u16 version, UTF-8 advertised endpoint
    Begin = 2,   // sender → receiver: i64 total bytes, u8 kind, u16 topic length, topic, i32 metadata length, metadata
    Data = 3,    // sender → receiver: the next slice of the payload (in order)
    Abort = 4,   // sender → receiver: UTF-8 reason; the sender stops this transfer
    Ack = 5,     // receiver → sender: the whole payload arrived, verified and was delivered
    Nack = 6,    // receiver → sender: UTF-8 reason; the receiver dropped the transfer
}

/// <summary>One 40-byte frame header: magic, type, transfer id, payload length, CRC-32 of the payload, and a CRC-32
/// of the header itself (so a corrupted length never desynchronises the stream unnoticed).</summary>
internal readonly record struct FrameHeader(FrameType Type, Guid TransferId, int Length, ulong PayloadHash);

internal static class BulkWire
{
    public const uint Magic = 0x4B424D4D;   // "MMBK"
    public const ushort Version = 1;
    public const int HeaderBytes = 40;
    public const int MaxControlBytes = 2 + BulkHeader.MaxTopicBytes + 8 + 1 + 4 + BulkHeader.MaxMetadataBytes + 64;

    /// <summary>The frame checksum: CRC-32 (IEEE). System.IO.Hashing's carry-less-multiply CRC-32 measured faster than
    /// its XxHash3 on this machine (bench `exchange` prints both), and the checksum is on the data path twice.</summary>
    public static ulong Hash(ReadOnlySpan<byte> payload) => Crc32.HashToUInt32(payload);

    /// <summary>The checksum field of a frame: CRC-32 of the payload on a plain channel; 0 on a TLS channel, whose
    /// frames are sealed with AEGIS-128L (FrameCipher) and whose 32-byte tag already authenticates header and payload:
    /// a CRC pass over every byte on each side would buy nothing and cost ~15 ms of CPU per 100 MB (bench `exchange`).</summary>
    public static ulong FrameHash(ReadOnlySpan<byte> payload, bool isSealed) => isSealed ? 0 : Hash(payload);

    public static void Write(Span<byte> dest, in FrameHeader h)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(dest, Magic);
        dest[4] = (byte)h.Type;
        dest[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(dest[6..], 0);
        if (!h.TransferId.TryWriteBytes(dest[8..24])) throw new InvalidOperationException("guid");
        BinaryPrimitives.WriteInt32LittleEndian(dest[24..], h.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(dest[28..], h.PayloadHash);
        BinaryPrimitives.WriteUInt32LittleEndian(dest[36..], Crc32.HashToUInt32(dest[..36]));
    }

    /// <summary>Parses a header; a wrong magic, header checksum, type or length is a protocol error (the stream
    /// cannot be trusted any more, the connection is closed).</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> src, int maxLength)
    {
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(src);
        if (magic != Magic) throw new BulkProtocolException($"bad frame magic 0x{magic:X8} (expected 0x{Magic:X8}): not a bulk channel peer, or a corrupted stream");
        if (BinaryPrimitives.ReadUInt32LittleEndian(src[36..]) != Crc32.HashToUInt32(src[..36]))
            throw new BulkProtocolException("frame header checksum mismatch: corrupted stream");
        var type = (FrameType)src[4];
        if (type is < FrameType.Hello or > FrameType.Nack) throw new BulkProtocolException($"unknown frame type {(byte)type}");
        var length = BinaryPrimitives.ReadInt32LittleEndian(src[24..]);
        if (length < 0 || length > maxLength) throw new BulkProtocolException($"frame length {length} outside 0..{maxLength}");
        return new FrameHeader(type, new Guid(src[8..24]), length, BinaryPrimitives.ReadUInt64LittleEndian(src[28..]));
    }

    public static byte[] Hello(BulkEndpoint self)
    {
        var text = Encoding.UTF8.GetBytes(self.ToString());
        var bytes = new byte[2 + text.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, Version);
        text.CopyTo(bytes, 2);
        return bytes;
    }

    public static BulkEndpoint ParseHello(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 2) throw new BulkProtocolException("hello frame too short");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        if (version != Version) throw new BulkProtocolException($"bulk protocol version {version}, this node speaks {Version}");
        try { return BulkEndpoint.Parse(Encoding.UTF8.GetString(payload[2..])); }
        catch (FormatException e) { throw new BulkProtocolException("hello frame: " + e.Message); }
    }

    public static byte[] Begin(BulkHeader header, long totalBytes, BulkPayloadKind kind)
    {
        var topic = Encoding.UTF8.GetBytes(header.Topic);
        var meta = header.Metadata ?? [];
        var bytes = new byte[8 + 1 + 2 + topic.Length + 4 + meta.Length];
        var s = bytes.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(s, totalBytes);
        s[8] = (byte)kind;
        BinaryPrimitives.WriteUInt16LittleEndian(s[9..], (ushort)topic.Length);
        topic.CopyTo(s[11..]);
        BinaryPrimitives.WriteInt32LittleEndian(s[(11 + topic.Length)..], meta.Length);
        meta.CopyTo(s[(15 + topic.Length)..]);
        return bytes;
    }

    public static (long TotalBytes, BulkPayloadKind Kind, string Topic, byte[] Metadata) ParseBegin(ReadOnlySpan<byte> s)
    {
        try
        {
            var total = BinaryPrimitives.ReadInt64LittleEndian(s);
            var kind = (BulkPayloadKind)s[8];
            int topicLength = BinaryPrimitives.ReadUInt16LittleEndian(s[9..]);
            var topic = Encoding.UTF8.GetString(s.Slice(11, topicLength));
            var metaLength = BinaryPrimitives.ReadInt32LittleEndian(s[(11 + topicLength)..]);
            var meta = s.Slice(15 + topicLength, metaLength).ToArray();
            if (total < 0) throw new BulkProtocolException($"begin frame: negative payload length {total}");
            if (kind is not (BulkPayloadKind.Bytes or BulkPayloadKind.Float32)) throw new BulkProtocolException($"begin frame: unknown payload kind {(byte)kind}");
            return (total, kind, topic, meta);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new BulkProtocolException("begin frame truncated");
        }
    }

    /// <summary>Sets the usual options on a bulk socket: no Nagle, large buffers, keep-alive.</summary>
    public static void Configure(Socket socket, int bufferBytes)
    {
        socket.NoDelay = true;
        if (bufferBytes > 0)
        {
            socket.SendBufferSize = bufferBytes;
            socket.ReceiveBufferSize = bufferBytes;
        }
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
    }
}

/// <summary>The byte stream broke the wire protocol: the connection is closed and every transfer on it fails.</summary>
internal sealed class BulkProtocolException(string message) : Exception(message);

/// <summary>Views a float[] (or a slice) as bytes for socket reads and writes, with no copy.</summary>
internal sealed class FloatBytes(float[] array, int start, int length) : MemoryManager<byte>
{
    GCHandle _pin;
    int _pins;

    public FloatBytes(float[] array) : this(array, 0, array.Length) { }

    public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan(start, length));

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        lock (this)
        {
            if (_pins++ == 0) _pin = GCHandle.Alloc(array, GCHandleType.Pinned);
            var first = (byte*)_pin.AddrOfPinnedObject() + (long)start * sizeof(float);
            return new MemoryHandle(first + elementIndex, default, this);
        }
    }

    public override void Unpin()
    {
        lock (this)
        {
            if (--_pins == 0) _pin.Free();
        }
    }

    protected override void Dispose(bool disposing)
    {
        lock (this)
        {
            if (_pins > 0) { _pin.Free(); _pins = 0; }
        }
    }
}
