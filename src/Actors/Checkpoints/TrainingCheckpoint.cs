using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
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

    public byte[] ToBytes()
    {
        var run = RunBytes();
        using var ms = new MemoryStream(Model.Length + Optimizer.Length + Rng.Length + run.Length + 128);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Step);
            foreach (var section in new[] { Model, Optimizer, Rng, run })
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

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically (temp, flush to disk, rename).
    /// <paramref name="midWriteDelay"/> is a test hook: a pause half-way through the temp file. On failure (a full disk)
    /// the temp file is removed and the exception rethrown.</summary>
    public static async Task WriteAtomicAsync(string path, byte[] bytes, TimeSpan midWriteDelay = default, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        try
        {
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
        }
        catch (IOException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        File.Move(tmp, path, overwrite: true);
    }
}
