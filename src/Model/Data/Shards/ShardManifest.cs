using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniMind.Model.Data.Shards;

/// <summary>The source a prepared directory was built from; a change in size or mtime marks the cache stale.</summary>
public sealed record ShardSource(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("mtime_utc_ticks")] long MtimeUtcTicks)
{
    public static ShardSource Of(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"file not found: {path}", path);
        return new ShardSource(info.FullName, info.Length, info.LastWriteTimeUtc.Ticks);
    }
}

/// <summary>One shard: its file name (relative to the manifest), sample count and byte size.</summary>
public sealed record ShardInfo(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>
/// <c>manifest.json</c> of a prepared directory: what was prepared (stage, max_length, tokenizer hash, source)
/// and how it is stored (format version, token width, pad id, shards). Written last, so a directory without one
/// is incomplete.
/// </summary>
public sealed record ShardManifest(
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("format_version")] int FormatVersion,
    [property: JsonPropertyName("stage")] string Stage,
    [property: JsonPropertyName("max_length")] int MaxLength,
    [property: JsonPropertyName("tokenizer_sha256")] string TokenizerSha256,
    [property: JsonPropertyName("vocab_size")] int VocabSize,
    [property: JsonPropertyName("token_bytes")] int TokenBytes,
    [property: JsonPropertyName("pad_id")] int PadId,
    [property: JsonPropertyName("sample_count")] long SampleCount,
    [property: JsonPropertyName("lines_skipped")] long LinesSkipped,
    [property: JsonPropertyName("source")] ShardSource Source,
    [property: JsonPropertyName("shards")] IReadOnlyList<ShardInfo> Shards)
{
    public const string FormatName = "minimind-shards";

    static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    [JsonIgnore]
    public DataStage DataStage => DataStages.Parse(Stage);

    /// <summary>Length of X, Y and the mask: max_length − 1.</summary>
    [JsonIgnore]
    public int SeqLen => MaxLength - 1;

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads <c>dir/manifest.json</c>; throws <see cref="InvalidDataException"/> if it is missing or not ours.</summary>
    public static ShardManifest Read(string dir)
    {
        var path = System.IO.Path.Combine(dir, ShardFormat.ManifestFileName);
        if (!System.IO.File.Exists(path))
            throw new InvalidDataException($"{dir}: no {ShardFormat.ManifestFileName} (not a prepared data directory, or preparation did not finish)");
        ShardManifest? m;
        try
        {
            m = JsonSerializer.Deserialize<ShardManifest>(System.IO.File.ReadAllText(path), s_json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid manifest ({e.Message})", e);
        }
        if (m is null || m.Format != FormatName)
            throw new InvalidDataException($"{path}: not a {FormatName} manifest");
        if (m.FormatVersion != ShardFormat.Version)
            throw new InvalidDataException($"{path}: format version {m.FormatVersion}, this build reads {ShardFormat.Version}\n---> HINT: re-run `minimind data prepare`");
        return m;
    }
}
