using System.Buffers.Binary;
using MiniMind.Actors;
using TorchSharp;

namespace MiniMind.Cluster.Metrics;

/// <summary>
/// A run's TensorBoard event files in &lt;run dir&gt;/tensorboard/&lt;stage&gt; (issue 14), written with TorchSharp's
/// <c>torch.utils.tensorboard.SummaryWriter</c>: per step <c>train/loss</c>, <c>train/lr</c>, <c>train/grad_norm</c>,
/// <c>train/tokens_per_second</c>, <c>train/loss_tokens_per_second</c>, <c>train/step_seconds</c>; per held-out evaluation
/// <c>eval/loss</c> and <c>eval/perplexity</c>. TensorBoard merges every
/// file of a directory, so a step must be in one file only: when a run (re)starts from step S (<see cref="Rewind"/>), every
/// existing file is rewritten without its events past S (and without a record torn by a kill), the steps up to S that
/// the files lack (flushed to the store but not yet here when the process died) are written again from the store, and
/// new steps go to a new file. The metrics store is the source of truth; these files follow it.
/// </summary>
public sealed class TensorBoardLog
{
    public static readonly IReadOnlyList<string> Tags =
        ["train/loss", "train/lr", "train/grad_norm", "train/tokens_per_second", "train/loss_tokens_per_second", "train/step_seconds"];

    /// <summary>A held-out evaluation's scalars (<see cref="EvalRow"/>), at the step of the weights it scored.</summary>
    public static readonly IReadOnlyList<string> EvalTags = ["eval/loss", "eval/perplexity"];

    readonly string dir;
    TorchSharp.Modules.SummaryWriter? writer;

    /// <param name="runName">The stage (lora-&lt;name&gt; for an adapter): each is one TensorBoard run, a folder of its own.</param>
    public TensorBoardLog(string runDir, string runName) => dir = Path.Combine(runDir, "tensorboard", runName);

    public string Directory => dir;

    /// <summary>The run continues after step <paramref name="afterStep"/>: no file keeps a later event; steps up to it the
    /// files lack are taken from <paramref name="stored"/> (the store's rows after a given step), and evaluations up to it
    /// they lack from <paramref name="storedEval"/> (the store's evaluations up to <paramref name="afterStep"/>).</summary>
    public void Rewind(long afterStep, Func<long, IEnumerable<MetricsRow>> stored, Func<IEnumerable<EvalRow>>? storedEval = null)
    {
        writer = null;
        var newest = 0L;
        var files = System.IO.Directory.Exists(dir) ? System.IO.Directory.GetFiles(dir, "events.out.tfevents.*") : Array.Empty<string>();
        foreach (var file in files) newest = Math.Max(newest, EventFile.Truncate(file, afterStep));
        if (newest < afterStep) Write(stored(newest).Where(r => r.Step <= afterStep));
        if (storedEval is null) return;
        var evaluated = files.SelectMany(EventFile.Scalars).Where(x => x.Tag == EvalTags[0]).Select(x => x.Step).ToHashSet();
        WriteEval([.. storedEval().Where(e => e.Step <= afterStep && !evaluated.Contains(e.Step))]);
    }

    public void WriteEval(IEnumerable<EvalRow> rows)
    {
        foreach (var e in rows)
        {
            writer ??= torch.utils.tensorboard.SummaryWriter(dir);
            var (step, wall) = (checked((int)e.Step), e.WallTimeMs / 1000);
            writer.add_scalar(EvalTags[0], (float)e.Loss, step, wall);
            writer.add_scalar(EvalTags[1], (float)e.Perplexity, step, wall);
        }
    }

    public void Write(IEnumerable<MetricsRow> rows)
    {
        foreach (var r in rows)
        {
            writer ??= torch.utils.tensorboard.SummaryWriter(dir);
            var step = checked((int)r.Step);
            var wall = r.WallTimeMs / 1000;   // TorchSharp 0.107 takes whole Unix seconds
            writer.add_scalar(Tags[0], (float)r.Loss, step, wall);
            writer.add_scalar(Tags[1], (float)r.Lr, step, wall);
            writer.add_scalar(Tags[2], (float)r.GradNorm, step, wall);
            writer.add_scalar(Tags[3], (float)r.TokensPerSecond, step, wall);
            writer.add_scalar(Tags[4], (float)r.LossTokensPerSecond, step, wall);
            writer.add_scalar(Tags[5], (float)r.StepSeconds, step, wall);
            foreach (var (name, value) in r.Rl?.Values() ?? []) writer.add_scalar($"rl/{name}", (float)value, step, wall);
        }
    }
}

/// <summary>TensorBoard's event file: TFRecord framing (u64 length, masked CRC-32C of it, the serialized
/// <c>tensorboard.Event</c>, masked CRC-32C of the data), little-endian.</summary>
public static class EventFile
{
    /// <summary>One scalar: its step, tag and value.</summary>
    public sealed record Scalar(long Step, string Tag, float Value);

    /// <summary>The complete records of <paramref name="file"/> (raw bytes), stopping at a record torn by a kill.</summary>
    public static IEnumerable<byte[]> Records(string file)
    {
        var bytes = File.ReadAllBytes(file);
        var at = 0;
        while (at + 12 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
            if (length > int.MaxValue || at + 12 + (long)length + 4 > bytes.Length) yield break;
            yield return bytes.AsSpan(at + 12, (int)length).ToArray();
            at += 12 + (int)length + 4;
        }
    }

    /// <summary>Every scalar in <paramref name="file"/>, in file order.</summary>
    public static IEnumerable<Scalar> Scalars(string file)
    {
        foreach (var record in Records(file))
        {
            var e = Tensorboard.Event.Parser.ParseFrom(record);
            if (e.Summary is null) continue;
            foreach (var v in e.Summary.Value) yield return new Scalar(e.Step, v.Tag, v.SimpleValue);
        }
    }

    /// <summary>Rewrites <paramref name="file"/> without its events past <paramref name="afterStep"/> and any torn tail
    /// (a temp file renamed over it); returns the newest step it keeps (0: none).</summary>
    public static long Truncate(string file, long afterStep)
    {
        var kept = new List<byte[]>();
        var dropped = false;
        var newest = 0L;
        foreach (var record in Records(file))
        {
            var e = Tensorboard.Event.Parser.ParseFrom(record);
            if (e.Summary is not null && e.Step > afterStep) { dropped = true; continue; }
            if (e.Summary is not null) newest = Math.Max(newest, e.Step);
            kept.Add(record);
        }
        var framed = kept.Sum(r => 16L + r.Length);
        if (!dropped && framed == new FileInfo(file).Length) return newest;
        var tmp = file + ".tmp";
        using (var s = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> head = stackalloc byte[12];
            Span<byte> tail = stackalloc byte[4];
            foreach (var r in kept)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)r.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(head[8..], MaskedCrc(head[..8]));
                BinaryPrimitives.WriteUInt32LittleEndian(tail, MaskedCrc(r));
                s.Write(head);
                s.Write(r);
                s.Write(tail);
            }
            s.Flush(flushToDisk: true);
        }
        File.Move(tmp, file, overwrite: true);
        return newest;
    }

    /// <summary>TFRecord's masked CRC-32C: rotate right by 15 and add 0xa282ead8.</summary>
    public static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        var crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    static readonly uint[] Table = BuildTable();

    static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
