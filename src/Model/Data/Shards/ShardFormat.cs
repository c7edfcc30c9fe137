using System.Buffers.Binary;

namespace MiniMind.Model.Data.Shards;

/// <summary>
/// One shard file (<c>shard-NNNNN.bin</c>), little-endian:
/// <code>
/// header  (32 bytes)  "MMSHARD1" | u32 version | u32 token bytes (2 or 4) | u64 sample count | u64 index offset
/// records             one per sample, back to back (layout below)
/// index               u64[count + 1]: byte offset of each record, then the end of the last one
/// </code>
/// A record holds, for each side (one; two for DPO: chosen then rejected): <c>u32 n</c>, <c>n</c> token ids
/// (the sample's <c>input_ids</c> with the right padding trimmed; the reader pads again), and for every stage
/// but pretrain the shifted loss mask, one byte per target (<c>max_length − 1</c> bytes: 0/1, or the reasoning
/// weights 0/1/10). Reason records start with <c>u32</c> normaliser (<see cref="ReasonLossMask.Normalizer"/>).
/// Pretrain stores no mask: it is ids != pad, rebuilt on read.
/// </summary>
public static class ShardFormat
{
    public const int Version = 1;
    public const int HeaderBytes = 32;
    public static ReadOnlySpan<byte> Magic => "MMSHARD1"u8;
    public const string ManifestFileName = "manifest.json";

    /// <summary>Bytes per token id: 2 (uint16) while every id fits (vocab ≤ 65,536, ids 0…65,535), else 4.</summary>
    public static int TokenBytesFor(int vocabSize) => vocabSize <= ushort.MaxValue + 1 ? 2 : 4;

    public static string ShardFileName(int index) => $"shard-{index:D5}.bin";

    /// <summary>Number of sides per sample: 2 for DPO, else 1.</summary>
    public static int Sides(DataStage stage) => stage == DataStage.Dpo ? 2 : 1;

    public static bool HasMask(DataStage stage) => stage != DataStage.Pretrain;

    internal static void WriteHeader(Span<byte> header, int tokenBytes, long count, long indexOffset)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], tokenBytes);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], count);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], indexOffset);
    }

    /// <summary>Appends one side (ids with padding trimmed, then the mask if any) to <paramref name="buffer"/>.</summary>
    internal static void AppendSide(List<byte> buffer, ReadOnlySpan<int> inputIds, int padId, ReadOnlySpan<int> shiftedMask, bool hasMask, int tokenBytes)
    {
        using var record = new RecordBuffer(256);
        AppendSide(record, inputIds, padId, shiftedMask, hasMask, tokenBytes);
        buffer.AddRange(record.Written);
    }

    /// <summary>Appends one side: <c>u32 n</c>, the first <c>n</c> ids of <paramref name="inputIds"/> (right padding
    /// trimmed) as uint16 or int32, then the mask bytes if <paramref name="hasMask"/>. Checks every value before it writes,
    /// so a failure leaves <paramref name="buffer"/> as it was.</summary>
    internal static void AppendSide(RecordBuffer buffer, ReadOnlySpan<int> inputIds, int padId, ReadOnlySpan<int> shiftedMask, bool hasMask, int tokenBytes)
    {
        var n = inputIds.Length;
        while (n > 0 && inputIds[n - 1] == padId) n--;
        var ids = inputIds[..n];
        if (tokenBytes == 2)
            foreach (var id in ids)
                if ((uint)id > ushort.MaxValue) throw new InvalidOperationException($"token id {id} does not fit uint16 shards");
        if (!hasMask) shiftedMask = [];
        foreach (var m in shiftedMask)
            if ((uint)m > byte.MaxValue) throw new InvalidOperationException($"loss weight {m} does not fit a byte");

        var span = buffer.Append(4 + n * tokenBytes + shiftedMask.Length);
        span = WriteIds(span, ids, tokenBytes);
        for (var i = 0; i < shiftedMask.Length; i++) span[i] = (byte)shiftedMask[i];
    }

    /// <summary>Writes a side's length and ids (uint16 or int32, little-endian) at the start of <paramref name="span"/>
    /// and returns the rest, where its mask bytes go.</summary>
    static Span<byte> WriteIds(Span<byte> span, ReadOnlySpan<int> ids, int tokenBytes)
    {
        var n = ids.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span, n);
        span = span[4..];
        if (tokenBytes == 2)
        {
            for (var i = 0; i < n; i++) BinaryPrimitives.WriteUInt16LittleEndian(span[(2 * i)..], (ushort)ids[i]);
        }
        else
        {
            for (var i = 0; i < n; i++) BinaryPrimitives.WriteInt32LittleEndian(span[(4 * i)..], ids[i]);
        }
        return span[(n * tokenBytes)..];
    }

    /// <summary><see cref="AppendSide(RecordBuffer, ReadOnlySpan{int}, int, ReadOnlySpan{int}, bool, int)"/> with the mask
    /// already as bytes (the data-prepare path builds it so): the same record, without a pass over an int mask.</summary>
    internal static void AppendSide(RecordBuffer buffer, ReadOnlySpan<int> inputIds, int padId, ReadOnlySpan<byte> shiftedMask, int tokenBytes)
    {
        var ids = inputIds.TrimEnd(padId);
        var n = ids.Length;
        if (tokenBytes == 2 && ids.ContainsAnyExceptInRange(0, ushort.MaxValue))
            throw new InvalidOperationException($"token id {ids[ids.IndexOfAnyExceptInRange(0, ushort.MaxValue)]} does not fit uint16 shards");
        shiftedMask.CopyTo(WriteIds(buffer.Append(4 + n * tokenBytes + shiftedMask.Length), ids, tokenBytes));
    }

    internal static void AppendInt32(RecordBuffer buffer, int value) => BinaryPrimitives.WriteInt32LittleEndian(buffer.Append(4), value);
}
