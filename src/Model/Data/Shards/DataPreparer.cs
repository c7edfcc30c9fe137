using System.Diagnostics;
using System.Security.Cryptography;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Data.Shards;

/// <summary>What to prepare and how.</summary>
public sealed record DataPrepareOptions
{
    /// <summary>The JSONL input.</summary>
    public required string Source { get; init; }

    /// <summary>tokenizer.json (its sha256 goes into the manifest).</summary>
    public required string Tokenizer { get; init; }

    public required DataStage Stage { get; init; }

    /// <summary>The output directory; replaced atomically (written as a sibling temp directory, then renamed).</summary>
    public required string OutputDir { get; init; }

    /// <summary>MiniMind's max_length (default 512): samples are truncated/padded to it; X, Y, mask have max_length − 1.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>Tokenizing threads (default: one per core). The output does not depend on it.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Skip lines that cannot become samples (reported) instead of failing on the first.</summary>
    public bool SkipBadLines { get; init; }

    /// <summary>A shard is closed once it reaches this size (default 256 MiB).</summary>
    public long ShardBytes { get; init; } = 256L << 20;

    /// <summary>… or this many samples (default 2^20), which bounds the in-memory offset index of the open shard.</summary>
    public long ShardSamples { get; init; } = 1L << 20;

    /// <summary>Token id width override (2 or 4); default from the vocab size (<see cref="ShardFormat.TokenBytesFor"/>).</summary>
    public int? TokenBytes { get; init; }

    /// <summary>Bytes of input lines per work item (default 256 KiB).</summary>
    public int ChunkBytes { get; init; } = 256 << 10;

    /// <summary>Longest accepted line (default 64 MiB); a longer one is an error naming its line.</summary>
    public int MaxLineBytes { get; init; } = JsonlChunkReader.MaxLineBytes;

    /// <summary>Called as input is consumed, in file order, from one thread at a time (whichever worker is writing).</summary>
    public Action<DataPrepareProgress>? Progress { get; init; }
}

/// <summary>Progress: input bytes whose samples have been written, of the file size.</summary>
public sealed record DataPrepareProgress(long BytesDone, long BytesTotal, long Samples)
{
    public double Fraction => BytesTotal > 0 ? Math.Min(1.0, (double)BytesDone / BytesTotal) : 1.0;
}

/// <summary>The outcome of a preparation.</summary>
/// <param name="SkippedLines">Line numbers of the first <see cref="DataPreparer.MaxReportedBadLines"/> skipped lines.</param>
/// <param name="SkippedReasons">For the same lines, "file:line: why".</param>
public sealed record DataPrepareReport(
    string OutputDir, ShardManifest Manifest, long Samples, long LinesRead, long BlankLines, long LinesSkipped,
    IReadOnlyList<long> SkippedLines, IReadOnlyList<string> SkippedReasons, long InputBytes, TimeSpan Elapsed)
{
    public double MegabytesPerSecond => Elapsed.TotalSeconds > 0 ? InputBytes / 1e6 / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Streams a JSONL file into pre-tokenized shards (<see cref="ShardFormat"/>) through a <see cref="ChunkPipeline"/>:
/// <c>Threads</c> workers each take the next chunk of whole lines, tokenize it, and the records are written strictly in
/// chunk order, so the bytes are the same for any thread count. At most two chunks per thread are in flight, so memory
/// stays flat whatever the input size.
/// </summary>
public static class DataPreparer
{
    /// <summary>How many skipped lines the report lists (all are counted).</summary>
    public const int MaxReportedBadLines = 20;

    public static DataPrepareReport Prepare(DataPrepareOptions options, CancellationToken cancellationToken = default) =>
        PrepareAsync(options, cancellationToken).GetAwaiter().GetResult();

    public static async Task<DataPrepareReport> PrepareAsync(DataPrepareOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxLength, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Threads, 1);
        if (options.TokenBytes is { } tb && tb is not (2 or 4)) throw new ArgumentException("TokenBytes must be 2 or 4");
        var clock = Stopwatch.StartNew();
        var source = ShardSource.Of(options.Source);
        var tokenizerSha = Sha256File(options.Tokenizer);
        var tokenizer = BpeTokenizer.FromFile(options.Tokenizer);
        var tokenBytes = options.TokenBytes ?? ShardFormat.TokenBytesFor(tokenizer.VocabSize);
        var encoder = new SampleEncoder(tokenizer, options.Stage, options.MaxLength, tokenBytes);
        if (source.Size == 0) throw new DataFormatException(options.Source, 0, "the file is empty");

        var outDir = Path.GetFullPath(options.OutputDir);
        var parent = Path.GetDirectoryName(outDir)!;
        Directory.CreateDirectory(parent);
        var tmpDir = Path.Combine(parent, $".{Path.GetFileName(outDir)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmpDir);
        try
        {
            var state = await RunPipeline(options, encoder, tokenBytes, tmpDir, source.Size, cancellationToken);
            if (state.Samples == 0)
                throw new DataFormatException(options.Source, 0, state.Skipped > 0 ? $"no usable samples (all {state.Skipped} non-blank lines were skipped)" : "no samples (only blank lines)");
            var manifest = new ShardManifest(ShardManifest.FormatName, ShardFormat.Version, options.Stage.Name(), options.MaxLength,
                tokenizerSha, tokenizer.VocabSize, tokenBytes, encoder.PadId, state.Samples, state.Skipped, source, state.Shards);
            File.WriteAllText(Path.Combine(tmpDir, ShardFormat.ManifestFileName), manifest.ToJson());
            ReplaceDirectory(tmpDir, outDir);
            return new DataPrepareReport(outDir, manifest, state.Samples, state.Lines, state.Blank, state.Skipped,
                state.BadLines, state.BadReasons, source.Size, clock.Elapsed);
        }
        catch
        {
            try { Directory.Delete(tmpDir, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    sealed class PipelineState
    {
        public long Samples, Lines, Blank, Skipped;
        public readonly List<long> BadLines = [];
        public readonly List<string> BadReasons = [];
        public IReadOnlyList<ShardInfo> Shards = [];
    }

    static async Task<PipelineState> RunPipeline(DataPrepareOptions o, SampleEncoder encoder, int tokenBytes, string dir, long total, CancellationToken ct)
    {
        var state = new PipelineState();
        using var writer = new ShardWriter(dir, tokenBytes, o.ShardBytes, o.ShardSamples);
        using var reader = new JsonlChunkReader(o.Source, o.ChunkBytes, o.MaxLineBytes);
        using var pipeline = new ChunkPipeline(reader, o.Threads, encoder, (chunk, result) => WriteChunk(o, state, writer, total, chunk, result));
        await pipeline.Run(ct);
        ct.ThrowIfCancellationRequested();
        writer.Finish();
        state.Shards = [.. writer.Shards];
        return state;
    }

    /// <summary>The ordered merge's one step: a chunk's bad lines (an error, or counted and listed), then its records.</summary>
    static void WriteChunk(DataPrepareOptions o, PipelineState state, ShardWriter writer, long total, JsonlChunk chunk, ChunkResult result)
    {
        foreach (var (line, reason) in result.Bad)
        {
            if (!o.SkipBadLines) throw new DataFormatException(o.Source, line, reason);
            state.Skipped++;
            if (state.BadLines.Count < MaxReportedBadLines)
            {
                state.BadLines.Add(line);
                state.BadReasons.Add($"{o.Source}:{line}: {reason}");
            }
        }
        var records = result.Records.Written;
        var at = 0;
        foreach (var len in result.Lengths)
        {
            writer.Append(records.Slice(at, len));
            at += len;
        }
        state.Samples += result.Lengths.Count;
        state.Lines += chunk.LineCount;
        state.Blank += result.Blank;
        o.Progress?.Invoke(new DataPrepareProgress(chunk.EndOffset, total, state.Samples));
    }

    /// <summary>Moves <paramref name="tmpDir"/> to <paramref name="outDir"/>, replacing a previous prepared directory
    /// (one with a manifest) or an empty one; anything else is refused.</summary>
    static void ReplaceDirectory(string tmpDir, string outDir)
    {
        if (Directory.Exists(outDir))
        {
            var isOurs = File.Exists(Path.Combine(outDir, ShardFormat.ManifestFileName));
            if (!isOurs && Directory.EnumerateFileSystemEntries(outDir).Any())
                throw new IOException($"{outDir} exists and is not a prepared data directory; refusing to replace it");
            var old = outDir + $".old-{Guid.NewGuid():N}";
            Directory.Move(outDir, old);
            Directory.Move(tmpDir, outDir);
            Directory.Delete(old, recursive: true);
        }
        else Directory.Move(tmpDir, outDir);
    }

    /// <summary>Lower-case hex sha256 of a file.</summary>
    public static string Sha256File(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
