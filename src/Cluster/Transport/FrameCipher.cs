using System.Buffers.Binary;
using System.Security.Cryptography;

namespace MiniMind.Cluster.Transport;

/// <summary>
/// Authenticated encryption of a TLS bulk connection's frames (issue 18). The TLS handshake authenticates both nodes
/// against the cluster CA; inside the TLS session the connecting side sends two fresh random AES-256 keys (one per
/// direction) and waits for the other side's confirmation, then both leave TLS and seal every frame themselves: the
/// payload with AES-GCM in one call per frame (TLS's 16 KiB records cost several times more per byte on a busy
/// machine), the 40-byte header as associated data, a per-direction frame counter as the nonce (a replayed, reordered,
/// dropped or forged frame fails authentication: the connection is closed and its open transfers fail; nothing is
/// delivered). Wire: header | ciphertext (Length bytes) | 16-byte tag.
/// </summary>
internal sealed class FrameCipher : IDisposable
{
    public const int TagBytes = 16;
    public const int KeyBytes = 32;

    readonly AesGcm _seal;
    readonly AesGcm _open;
    readonly byte[] _sealNonce = new byte[12];
    readonly byte[] _openNonce = new byte[12];
    ulong _sealed;
    ulong _opened;

    /// <param name="keys">two keys: the connecting side seals with the first, the accepting side with the second.</param>
    public FrameCipher(ReadOnlySpan<byte> keys, bool connecting)
    {
        var first = keys[..KeyBytes];
        var second = keys.Slice(KeyBytes, KeyBytes);
        _seal = new AesGcm(connecting ? first : second, TagBytes);
        _open = new AesGcm(connecting ? second : first, TagBytes);
    }

    /// <summary>Encrypts <paramref name="plain"/> into <paramref name="cipher"/> (may be the same memory) and writes the tag.</summary>
    public void Seal(ReadOnlySpan<byte> header, ReadOnlySpan<byte> plain, Span<byte> cipher, Span<byte> tag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_sealNonce, _sealed++);
        _seal.Encrypt(_sealNonce, plain, cipher, tag, header);
    }

    /// <summary>Decrypts <paramref name="data"/> in place; a wrong tag (forged, replayed, corrupted) is a protocol error.</summary>
    public void Open(ReadOnlySpan<byte> header, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_openNonce, _opened++);
        try
        {
            _open.Decrypt(_openNonce, data, tag, data, header);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new BulkProtocolException("a frame failed authentication (forged, replayed or corrupted)");
        }
    }

    /// <summary>A frame read and discarded unopened (a dropped transfer's): its nonce is used up all the same.</summary>
    public void Skip() => _opened++;

    public void Dispose()
    {
        _seal.Dispose();
        _open.Dispose();
    }
}
