using System.Security.Cryptography;
using System.Text;

namespace MiniMind.Model.Data.Shards;

/// <summary>
/// A raw JSONL given to <c>minimind train …</c>: prepared once into <c>cacheDir/&lt;name&gt;-&lt;stage&gt;-&lt;max_length&gt;-&lt;key&gt;</c>,
/// keyed by (source path, tokenizer sha256, stage, max_length), and reused while the manifest still matches the
/// source's size and mtime and the tokenizer's hash.
/// </summary>
public static class PreparedData
{
    /// <summary>The cache directory for these inputs (whether or not it exists yet).</summary>
    public static string CacheDirFor(string jsonl, string tokenizerSha256, DataStage stage, int maxLength, string cacheDir)
    {
        var full = Path.GetFullPath(jsonl);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{full}\n{tokenizerSha256}\n{stage.Name()}\n{maxLength}")))[..16];
        return Path.Combine(cacheDir, $"{Path.GetFileNameWithoutExtension(full)}-{stage.Name()}-{maxLength}-{key}");
    }

    /// <summary>Why <paramref name="dir"/> cannot be reused for these inputs, or null if it can.</summary>
    public static string? StaleReason(string dir, string jsonl, string tokenizerSha256, DataStage stage, int maxLength)
    {
        ShardManifest m;
        try
        {
            m = ShardManifest.Read(dir);
        }
        catch (InvalidDataException e)
        {
            return e.Message;
        }
        var source = ShardSource.Of(jsonl);
        if (m.Stage != stage.Name()) return $"stage {m.Stage} != {stage.Name()}";
        if (m.MaxLength != maxLength) return $"max_length {m.MaxLength} != {maxLength}";
        if (m.TokenizerSha256 != tokenizerSha256) return "the tokenizer changed";
        if (m.Source.Path != source.Path) return $"prepared from {m.Source.Path}";
        if (m.Source.Size != source.Size || m.Source.MtimeUtcTicks != source.MtimeUtcTicks) return $"{jsonl} changed since it was prepared";
        foreach (var shard in m.Shards)
        {
            var info = new FileInfo(Path.Combine(dir, shard.File));
            if (!info.Exists || info.Length != shard.Bytes) return $"{shard.File} is missing or has the wrong size";
        }
        return null;
    }

    /// <summary>Prepares <paramref name="jsonl"/> unless a valid cache exists; returns the cache directory and
    /// whether it was (re)built. <paramref name="log"/> receives one line saying which. With
    /// <paramref name="skipBadLines"/> (as <c>data prepare --skip-bad-lines</c>) lines that are not valid samples are
    /// skipped; <paramref name="report"/> then hears what was skipped. Without it, a cache prepared by skipping lines is
    /// not reused (the preparation fails again, naming the first bad line).</summary>
    public static (string Dir, bool Built) Ensure(string jsonl, string tokenizer, DataStage stage, int maxLength, string cacheDir,
        Action<string>? log = null, Action<DataPrepareProgress>? progress = null, int? threads = null,
        bool skipBadLines = false, Action<DataPrepareReport>? report = null)
    {
        var sha = DataPreparer.Sha256File(tokenizer);
        var dir = CacheDirFor(jsonl, sha, stage, maxLength, cacheDir);
        var stale = Directory.Exists(dir) ? StaleReason(dir, jsonl, sha, stage, maxLength) : "not prepared yet";
        if (stale is null && !skipBadLines && ShardManifest.Read(dir).LinesSkipped is > 0 and var skipped)
            stale = $"it was prepared skipping {skipped} bad lines, and bad lines are not skipped now";
        if (stale is null)
        {
            log?.Invoke($"using prepared data {dir}");
            return (dir, false);
        }
        log?.Invoke($"preparing {jsonl} -> {dir} ({stale})");
        var r = DataPreparer.Prepare(new DataPrepareOptions
        {
            Source = jsonl, Tokenizer = tokenizer, Stage = stage, MaxLength = maxLength, OutputDir = dir,
            Threads = threads ?? Environment.ProcessorCount, Progress = progress, SkipBadLines = skipBadLines,
        });
        report?.Invoke(r);
        return (dir, true);
    }

    /// <summary>For pretrain/SFT/reason: the prepared dataset, building or rebuilding the cache when needed.</summary>
    public static ShardDataset OpenOrPrepare(string jsonl, string tokenizer, DataStage stage, int maxLength, string cacheDir,
        Action<string>? log = null, Action<DataPrepareProgress>? progress = null, bool skipBadLines = false)
    {
        if (stage == DataStage.Dpo) throw new ArgumentException($"DPO data opens with {nameof(OpenOrPrepareDpo)}");
        return ShardDataset.Open(Ensure(jsonl, tokenizer, stage, maxLength, cacheDir, log, progress, skipBadLines: skipBadLines).Dir);
    }

    /// <summary>For DPO: the prepared pairs, building or rebuilding the cache when needed.</summary>
    public static DpoShardDataset OpenOrPrepareDpo(string jsonl, string tokenizer, int maxLength, string cacheDir,
        Action<string>? log = null, Action<DataPrepareProgress>? progress = null, bool skipBadLines = false) =>
        DpoShardDataset.Open(Ensure(jsonl, tokenizer, DataStage.Dpo, maxLength, cacheDir, log, progress, skipBadLines: skipBadLines).Dir);
}
