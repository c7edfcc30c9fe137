using System.Runtime.InteropServices;

namespace MiniMind.Cluster.Transport;

/// <summary>What a transfer carries besides its payload. <paramref name="TransferId"/> is chosen by the actors (usually
/// the receiver hands it out in the small Akka message that asks for the data, see README.md) and must be unique among
/// the transfers in flight to one peer. <paramref name="Topic"/> routes it to a subscriber when no actor
/// <see cref="BulkChannel.Expect"/>s the id. <paramref name="Metadata"/> is small opaque bytes (≤ 64 KiB), e.g. step and
/// micro-batch.</summary>
public sealed record BulkHeader(Guid TransferId, string Topic, byte[]? Metadata = null)
{
    public const int MaxTopicBytes = 1024;
    public const int MaxMetadataBytes = 64 * 1024;
}

/// <summary>Element type of a payload: the receiver allocates a <c>byte[]</c> or a <c>float[]</c> and reads the frames
/// straight into it (float32 is little-endian, as on every platform .NET runs on here).</summary>
public enum BulkPayloadKind : byte
{
    Bytes = 0,
    Float32 = 1,
}

/// <summary>A received payload: exactly one of <see cref="Bytes"/> / <see cref="Floats"/> is set, per <see cref="Kind"/>.</summary>
public sealed class BulkPayload
{
    BulkPayload(byte[]? bytes, float[]? floats) { Bytes = bytes; Floats = floats; }

    public static BulkPayload Of(byte[] bytes) => new(bytes ?? throw new ArgumentNullException(nameof(bytes)), null);

    public static BulkPayload Of(float[] floats) => new(null, floats ?? throw new ArgumentNullException(nameof(floats)));

    public byte[]? Bytes { get; }

    public float[]? Floats { get; }

    public BulkPayloadKind Kind => Floats is null ? BulkPayloadKind.Bytes : BulkPayloadKind.Float32;

    public long ByteLength => Floats is null ? Bytes!.LongLength : Floats.LongLength * sizeof(float);

    /// <summary>The payload's bytes, whatever its kind.</summary>
    public ReadOnlySpan<byte> Span => Floats is null ? Bytes : MemoryMarshal.AsBytes(Floats.AsSpan());

    /// <summary>The float[] of a <see cref="BulkPayloadKind.Float32"/> payload.</summary>
    public float[] AsFloats() => Floats ?? throw new InvalidOperationException("bulk payload holds bytes, not float32");

    /// <summary>The byte[] of a <see cref="BulkPayloadKind.Bytes"/> payload.</summary>
    public byte[] AsBytes() => Bytes ?? throw new InvalidOperationException("bulk payload holds float32, not bytes");
}

/// <summary>Told (locally, never through remoting) to the actor that <see cref="BulkChannel.Expect"/>ed the transfer
/// or subscribed to its topic, once every frame arrived and its checksum matched. The sender's
/// <see cref="BulkChannel.SendAsync(BulkEndpoint, BulkHeader, ReadOnlyMemory{byte}, BulkPayloadKind, Action{long}?, CancellationToken)"/>
/// completes right after this is told.</summary>
public sealed record BulkTransferReceived(Guid TransferId, string Topic, byte[] Metadata, BulkEndpoint From, BulkPayload Payload);

/// <summary>Told to the same actor when a transfer that had started is dropped: the connection broke or stalled, the
/// sender aborted, or a frame's checksum did not match. No partial data is delivered. <paramref name="BytesReceived"/>
/// of <paramref name="TotalBytes"/> had arrived.</summary>
public sealed record BulkTransferFailed(Guid TransferId, string Topic, BulkEndpoint From, long BytesReceived, long TotalBytes, string Reason);

/// <summary>Result of a completed send: the receiver acknowledged the whole payload (checksums verified, delivered).</summary>
public sealed record BulkSendResult(Guid TransferId, long Bytes, TimeSpan Elapsed)
{
    /// <summary>10^6 bytes per second.</summary>
    public double MegabytesPerSecond => Bytes / 1e6 / Math.Max(Elapsed.TotalSeconds, 1e-9);
}
