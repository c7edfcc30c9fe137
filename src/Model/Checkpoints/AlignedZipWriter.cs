using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// Writes a zip archive the way torch's PyTorchStreamWriter does: every record stored (uncompressed), its data
/// starting on a 64-byte boundary thanks to an "FB" padding extra field in the local header, sizes and CRC in
/// the local header (no data descriptors), then a central directory. Zip64 is not written, so the archive must
/// stay under 4 GiB (a MiniMind checkpoint is well below that); larger input fails with a clear message.
/// </summary>
internal sealed class AlignedZipWriter(Stream output)
{
    const int Alignment = 64;
    const ushort PaddingTag = 0x4246; // "FB", the tag torch uses
    readonly List<(byte[] Name, uint Crc, uint Size, uint Offset)> _entries = [];

    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var offset = CheckedU32(output.Position, name);
        var size = CheckedU32(data.Length, name);
        var crc = Crc32.HashToUInt32(data);

        var headerEnd = output.Position + 30 + nameBytes.Length;
        var padding = (int)((Alignment - (headerEnd + 4) % Alignment) % Alignment);
        var extraLength = headerEnd % Alignment == 0 ? 0 : 4 + padding;

        Span<byte> header = stackalloc byte[30];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0x04034b50);       // local file header signature
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 20);          // version needed to extract (2.0)
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0x0800);      // flags: names are UTF-8
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], 0);           // method: stored
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], 0);          // time
        BinaryPrimitives.WriteUInt16LittleEndian(header[12..], 0x21);       // date: 1980-01-01
        BinaryPrimitives.WriteUInt32LittleEndian(header[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(header[18..], size);       // compressed size
        BinaryPrimitives.WriteUInt32LittleEndian(header[22..], size);       // uncompressed size
        BinaryPrimitives.WriteUInt16LittleEndian(header[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(header[28..], (ushort)extraLength);
        output.Write(header);
        output.Write(nameBytes);
        if (extraLength > 0)
        {
            Span<byte> extra = stackalloc byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(extra, PaddingTag);
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], (ushort)padding);
            output.Write(extra);
            for (var i = 0; i < padding; i++) output.WriteByte((byte)'Z');
        }
        output.Write(data);
        _entries.Add((nameBytes, crc, size, offset));
    }

    /// <summary>Writes the central directory and the end record.</summary>
    public void Finish()
    {
        if (_entries.Count > ushort.MaxValue)
            throw new NotSupportedException($"{_entries.Count} zip records exceed the 65535 a zip without Zip64 can hold");
        var directoryStart = CheckedU32(output.Position, "central directory");
        Span<byte> h = stackalloc byte[46];
        foreach (var (name, crc, size, offset) in _entries)
        {
            h.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(h, 0x02014b50);        // central directory header signature
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 20);           // version made by
            BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 20);           // version needed
            BinaryPrimitives.WriteUInt16LittleEndian(h[8..], 0x0800);
            BinaryPrimitives.WriteUInt16LittleEndian(h[12..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(h[14..], 0x21);
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], crc);
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[24..], size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], (ushort)name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[42..], offset);      // local header offset
            output.Write(h);
            output.Write(name);
        }
        var directorySize = CheckedU32(output.Position - directoryStart, "central directory");
        Span<byte> end = stackalloc byte[22];
        end.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);          // end of central directory signature
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], (ushort)_entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], directorySize);
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], directoryStart);
        output.Write(end);
    }

    static uint CheckedU32(long value, string what) =>
        value <= uint.MaxValue ? (uint)value
        : throw new NotSupportedException($"{what}: the archive passes 4 GiB, which needs Zip64; this writer does not write Zip64");
}
