using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace MiniMind.Actors.Checkpoints;

/// <summary>What a checkpoint carries about its run, so a lost journal can be rebuilt from the checkpoints alone
/// (<c>minimind run repair</c>, or a <c>train</c> that finds its journal missing or empty): the run's identity
/// (<see cref="TrainingSettings.Identity"/>: no paths, so two run dirs of one run write equal checkpoints) and its plan.
/// The data position and LR follow from the step and the plan (<see cref="TrainingPlan"/>).</summary>
public sealed record CheckpointRun(string Stage, string RunName, string IdentityJson, long SampleCount, long TotalSteps)
{
    public static CheckpointRun Of(TrainingSettings settings, long sampleCount, long totalSteps) =>
        new(settings.Stage, settings.RunName, settings.Identity(), sampleCount, totalSteps);

    /// <summary>The settings the identity stands for, placed in <paramref name="runDir"/>.</summary>
    public TrainingSettings Settings(string runDir) => TrainingSettings.FromJson(IdentityJson) with { RunDir = runDir };
}

/// <summary>A resume checkpoint: model weights (TorchSharp format), AdamW state, torch's RNG state, the step and (from
/// version 2) the <see cref="CheckpointRun"/>. LR is recomputed from the step, the data position derived from it
/// (<see cref="TrainingPlan"/>).
/// File layout: magic "MMACKPT1", u32 version, i64 step, then length-prefixed sections (model, optimizer, rng, and in
/// version 2 the run as UTF-8 JSON), then the SHA-256 of everything before it. Written as temp + fsync + rename, so a
/// reader sees a whole file or none. Version 1 files (no run section) still load.</summary>
public sealed record TrainingCheckpoint(long Step, byte[] Model, byte[] Optimizer, byte[] Rng)
{
    static readonly byte[] Magic = "MMACKPT1"u8.ToArray();
    const uint Version = 2;

    /// <summary>The run this checkpoint belongs to (null: a version 1 file, or a snapshot sent to a joining replica).</summary>
    public CheckpointRun? Run { get; init; }

    public static string FileName(long step) => $"step_{step:D8}.ckpt";

    /// <summary>The step of a checkpoint file name (step_00000012.ckpt → 12), or null for any other name.</summary>
    public static long? StepOf(string fileName)
    {
        var name = Path.GetFileName(fileName);
        return name.StartsWith("step_", StringComparison.Ordinal) && name.EndsWith(".ckpt", StringComparison.Ordinal) &&
               long.TryParse(name.AsSpan(5, name.Length - 10), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var s)
            ? s : null;
    }

    /// <summary>The size of <see cref="ToBytes"/> without building it.</summary>
    public long ByteSize => Magic.Length + 4 + 8 + 4 * 8 + Model.Length + Optimizer.Length + Rng.Length + RunBytes().Length + 32;

    byte[] RunBytes() => Run is null ? [] : JsonSerializer.SerializeToUtf8Bytes(Run);

    /// <summary>The file's bytes in one array (joiners receive it; the checkpoint writer writes <see cref="FileParts"/>
    /// instead, without this copy of the state).</summary>
    public byte[] ToBytes()
    {
        var (parts, _) = FileParts();
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)parts.Sum(p => (long)p.Length)));
        var at = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(bytes.AsSpan(at));
            at += part.Length;
        }
        return bytes;
    }

    /// <summary>The file as consecutive pieces (header, each section's length and bytes, the SHA-256 of all before it),
    /// referencing the sections rather than copying them, and the SHA-256 of the whole file (as the journal records it) in lower-case hex.</summary>
    public (IReadOnlyList<ReadOnlyMemory<byte>> Parts, string Sha256) FileParts()
    {
        static byte[] Int64(long v)
        {
            var b = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            return b;
        }
        var header = new byte[Magic.Length + 4 + 8];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Magic.Length), Version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(Magic.Length + 4), Step);
        var parts = new List<ReadOnlyMemory<byte>> { header };
        foreach (var section in new[] { Model, Optimizer, Rng, RunBytes() })
        {
            parts.Add(Int64(section.Length));
            parts.Add(section);
        }
        using var body = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var file = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);   // the whole file's, as the journal records it
        foreach (var part in parts)
        {
            body.AppendData(part.Span);
            file.AppendData(part.Span);
        }
        var digest = body.GetHashAndReset();
        parts.Add(digest);
        file.AppendData(digest);
        return (parts, Convert.ToHexStringLower(file.GetHashAndReset()));
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
        if (version is not (1 or Version)) throw new InvalidDataException($"{source}: checkpoint version {version}, expected 1 or {Version}");
        var step = BinaryPrimitives.ReadInt64LittleEndian(body[12..]);
        var pos = 20;
        var sections = new byte[version == 1 ? 3 : 4][];
        for (var i = 0; i < sections.Length; i++)
        {
            var len = BinaryPrimitives.ReadInt64LittleEndian(body[pos..]);
            pos += 8;
            if (len < 0 || pos + len > body.Length) throw new InvalidDataException($"{source}: section length out of range");
            sections[i] = body.Slice(pos, (int)len).ToArray();
            pos += (int)len;
        }
        CheckpointRun? run = null;
        if (sections.Length > 3 && sections[3].Length > 0)
        {
            try { run = JsonSerializer.Deserialize<CheckpointRun>(sections[3]); }
            catch (JsonException e) { throw new InvalidDataException($"{source}: unreadable run section: {e.Message}"); }
        }
        return new TrainingCheckpoint(step, sections[0], sections[1], sections[2]) { Run = run };
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The SHA-256 of a file, read as a stream (not into one array).</summary>
    public static string Sha256HexOfFile(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically (temp, flush to disk, rename).
    /// <paramref name="midWriteDelay"/> is a test hook: a pause half-way through the temp file. On failure (a full disk)
    /// the temp file is removed and the exception rethrown.</summary>
    public static Task WriteAtomicAsync(string path, byte[] bytes, TimeSpan midWriteDelay = default, CancellationToken ct = default) =>
        WriteAtomicAsync(path, [bytes], midWriteDelay, ct);

    /// <summary>As <see cref="WriteAtomicAsync(string, byte[], TimeSpan, CancellationToken)"/>, the file being the
    /// concatenation of <paramref name="parts"/> (the pause comes after half of their total length).</summary>
    public static async Task WriteAtomicAsync(string path, IReadOnlyList<ReadOnlyMemory<byte>> parts, TimeSpan midWriteDelay = default, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var half = parts.Sum(p => (long)p.Length) / 2;
                long written = 0;
                foreach (var part in parts)
                {
                    var rest = part;
                    if (written <= half && written + rest.Length > half)
                    {
                        var first = (int)(half - written);
                        await fs.WriteAsync(rest[..first], ct);
                        if (midWriteDelay > TimeSpan.Zero)
                        {
                            await fs.FlushAsync(ct);
                            await Task.Delay(midWriteDelay, ct);
                        }
                        written += first;
                        rest = rest[first..];
                        half = -1;   // paused once
                    }
                    await fs.WriteAsync(rest, ct);
                    written += rest.Length;
                }
                await fs.FlushAsync(ct);
                fs.Flush(flushToDisk: true);
            }
        }
        catch (IOException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        File.Move(tmp, path, overwrite: true);
    }
}
