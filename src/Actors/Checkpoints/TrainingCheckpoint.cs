using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MiniMind.Actors.Checkpoints;

/// <summary>A resume checkpoint: model weights (TorchSharp format), AdamW state, torch's RNG state and the step.
/// LR is recomputed from the step, the data position derived from it (<see cref="TrainingPlan"/>).
/// File layout: magic "MMACKPT1", u32 version, i64 step, then three length-prefixed sections (model, optimizer, rng),
/// then the SHA-256 of everything before it. Written as temp + fsync + rename, so a reader sees a whole file or none.</summary>
public sealed record TrainingCheckpoint(long Step, byte[] Model, byte[] Optimizer, byte[] Rng)
{
    static readonly byte[] Magic = "MMACKPT1"u8.ToArray();
    const uint Version = 1;

    public static string FileName(long step) => $"step_{step:D8}.ckpt";

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream(Model.Length + Optimizer.Length + Rng.Length + 128);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Step);
            foreach (var section in new[] { Model, Optimizer, Rng })
            {
                w.Write((long)section.Length);
                w.Write(section);
            }
        }
        var body = ms.ToArray();
        return [.. body, .. SHA256.HashData(body)];
    }

    /// <summary>Parses and verifies a checkpoint; a truncated or altered file is an <see cref="InvalidDataException"/>.</summary>
    public static TrainingCheckpoint FromBytes(byte[] bytes, string source)
    {
        if (bytes.Length < Magic.Length + 4 + 8 + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"{source}: not a MiniMind.Actors checkpoint (bad magic or too short). HINT: delete it; training resumes from the previous checkpoint.");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new InvalidDataException($"{source}: checksum mismatch (truncated or corrupt checkpoint)");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
        if (version != Version) throw new InvalidDataException($"{source}: checkpoint version {version}, expected {Version}");
        var step = BinaryPrimitives.ReadInt64LittleEndian(body[12..]);
        var pos = 20;
        var sections = new byte[3][];
        for (var i = 0; i < sections.Length; i++)
        {
            var len = BinaryPrimitives.ReadInt64LittleEndian(body[pos..]);
            pos += 8;
            if (len < 0 || pos + len > body.Length) throw new InvalidDataException($"{source}: section length out of range");
            sections[i] = body.Slice(pos, (int)len).ToArray();
            pos += (int)len;
        }
        return new TrainingCheckpoint(step, sections[0], sections[1], sections[2]);
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically (temp, flush to disk, rename).
    /// <paramref name="midWriteDelay"/> is a test hook: a pause half-way through the temp file.</summary>
    public static async Task WriteAtomicAsync(string path, byte[] bytes, TimeSpan midWriteDelay = default, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        await using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            var half = bytes.Length / 2;
            await fs.WriteAsync(bytes.AsMemory(0, half), ct);
            if (midWriteDelay > TimeSpan.Zero)
            {
                await fs.FlushAsync(ct);
                await Task.Delay(midWriteDelay, ct);
            }
            await fs.WriteAsync(bytes.AsMemory(half), ct);
            await fs.FlushAsync(ct);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
