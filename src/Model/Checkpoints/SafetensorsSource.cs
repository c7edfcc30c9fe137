using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A safetensors file: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// (<c>{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, …}</c>),
/// then the tensor bytes; offsets are relative to the end of the header. The header is validated before any
/// data is read: known dtypes, sizes that match the shapes, and offsets that stay in the file and tile the
/// data section exactly (no overlaps, no holes), as the format requires.
/// </summary>
internal sealed class SafetensorsSource : CheckpointSource
{
    /// <summary>The format's own cap on the header size (100 MB).</summary>
    const long MaxHeader = 100_000_000;

    readonly FileStream _file;
    readonly long _dataStart;
    readonly List<CheckpointEntry> _entries = [];
    readonly Dictionary<string, (long Begin, long End)> _ranges = [];
    readonly Dictionary<string, string> _metadata = [];

    SafetensorsSource(string path, FileStream file, long dataStart) : base(path)
    {
        _file = file;
        _dataStart = dataStart;
    }

    public override string Format => "safetensors";

    public override IReadOnlyList<CheckpointEntry> Entries => _entries;

    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public static SafetensorsSource Open(string path)
    {
        var file = File.OpenRead(path);
        try
        {
            var length = file.Length;
            Span<byte> prefix = stackalloc byte[8];
            if (file.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8)
                throw new CheckpointFormatException(path, $"safetensors file of {length} bytes is too short to hold the 8-byte header length");
            var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > MaxHeader)
                throw new CheckpointFormatException(path, $"safetensors header length {headerLength} exceeds the format's 100 MB limit: not a safetensors file, or corrupt");
            if (8 + (long)headerLength > length)
                throw new CheckpointFormatException(path, $"the file is truncated: the safetensors header needs {headerLength} bytes but only {length - 8} follow the length field");
            var header = new byte[headerLength];
            file.ReadExactly(header);
            var source = new SafetensorsSource(path, file, 8 + (long)headerLength);
            source.ParseHeader(header, length - source._dataStart);
            return source;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    void ParseHeader(byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Error($"the safetensors header is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Error("the safetensors header is not a JSON object");
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") ReadMetadata(property.Value);
                else ReadTensor(property.Name, property.Value);
            }
        }
        CheckOffsets(dataLength);
    }

    void ReadMetadata(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Error("__metadata__ is not a JSON object");
        foreach (var m in value.EnumerateObject())
            _metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Error($"__metadata__ value '{m.Name}' is not a string");
    }

    void ReadTensor(string name, JsonElement value)
    {
        if (_ranges.ContainsKey(name)) throw Error($"tensor '{name}' appears twice in the header");
        if (value.ValueKind != JsonValueKind.Object) throw Error($"header entry '{name}' is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String)
            throw Error($"tensor '{name}' has no dtype");
        var dtypeName = dtypeJson.GetString()!;
        if (!TensorDType.TryFromSafetensors(dtypeName, out var dtype))
            throw Error($"tensor '{name}' has dtype {dtypeName}, which is not supported (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
        var shape = Longs(name, value, "shape", null);
        var offsets = Longs(name, value, "data_offsets", 2);
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin) throw Error($"tensor '{name}' has data_offsets [{begin}, {end}] that end before they begin");
        long nbytes;
        try
        {
            nbytes = checked(shape.Aggregate(1L, (a, b) => a * b) * TensorDType.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw Error($"tensor '{name}' has an impossible shape [{string.Join(", ", shape)}]");
        }
        if (end - begin != nbytes)
            throw Error($"tensor '{name}' {dtypeName} [{string.Join(", ", shape)}] needs {nbytes} bytes but data_offsets [{begin}, {end}] span {end - begin}");

        _ranges[name] = (begin, end);
        _entries.Add(new CheckpointEntry(name, dtype, shape, ContiguousStride(shape), 0, name));
    }

    long[] Longs(string name, JsonElement value, string property, int? count)
    {
        if (!value.TryGetProperty(property, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Error($"tensor '{name}' has no {property} array");
        var result = new List<long>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw Error($"tensor '{name}': {property} holds {item.GetRawText()}, not a non-negative integer");
            result.Add(v);
        }
        if (count is { } c && result.Count != c) throw Error($"tensor '{name}': {property} has {result.Count} values, expected {c}");
        return [.. result];
    }

    void CheckOffsets(long dataLength)
    {
        var last = _ranges.Count == 0 ? 0 : _ranges.Values.Max(r => r.End);
        if (last > dataLength)
        {
            var culprit = _ranges.First(r => r.Value.End == last).Key;
            throw Error($"the file is truncated: the header places tensor data up to byte {last} of the data section (tensor '{culprit}'), but only {dataLength} bytes follow the header");
        }
        long expected = 0;
        foreach (var (name, (begin, end)) in _ranges.OrderBy(r => r.Value.Begin).ThenBy(r => r.Value.End))
        {
            if (begin < expected) throw Error($"tensor '{name}' at data_offsets [{begin}, {end}] overlaps the tensor before it (which ends at {expected})");
            if (begin > expected) throw Error($"the data section has a hole: bytes [{expected}, {begin}) belong to no tensor (before '{name}')");
            expected = end;
        }
        if (expected != dataLength)
            throw Error($"{dataLength - expected} bytes after the last tensor belong to no tensor; safetensors data must be exactly covered by the header");
    }

    public override Tensor Load(CheckpointEntry entry)
    {
        var (begin, end) = _ranges[entry.Name];
        var tensor = torch.empty(entry.Shape, dtype: entry.DType);
        try
        {
            if (end - begin > int.MaxValue) throw Error($"tensor '{entry.Name}' is {end - begin} bytes; tensors over 2 GiB are not supported");
            _file.Position = _dataStart + begin;
            _file.ReadExactly(tensor.bytes);
            return tensor;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            tensor.Dispose();
            throw Error($"tensor '{entry.Name}' cannot be read: {e.Message}", e);
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    static long[] ContiguousStride(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return stride;
    }

    public override void Dispose() => _file.Dispose();
}
