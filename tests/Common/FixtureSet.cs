using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Tests.Common;

/// <summary>One set of ../shared/fixtures/model (dense_tiny, moe_tiny, lora_dense_tiny, dpo_dense_tiny),
/// read through its manifest.json: no hard-coded file names.</summary>
public sealed class FixtureSet
{
    public string Name { get; }
    public string Dir { get; }
    public JsonElement Manifest { get; }
    readonly Dictionary<string, JsonElement> _tensors = new();

    public FixtureSet(string name)
    {
        Name = name;
        Dir = Path.Combine(RepoPaths.ModelFixtures, name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json")));
        Manifest = doc.RootElement.Clone();
        foreach (var t in Manifest.GetProperty("tensors").EnumerateArray())
            _tensors[t.GetProperty("name").GetString()!] = t;
    }

    public IEnumerable<string> TensorNames => _tensors.Keys;

    public string ConfigPath => Path.Combine(Dir, "config.json");

    public string WeightsPath(string kind) => Path.Combine(Dir, Manifest.GetProperty("weights").GetProperty(kind).GetString()!);

    public long[] Shape(string name) =>
        _tensors[name].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();

    /// <summary>An int64 fixture tensor's values as ints (token ids, masks).</summary>
    public int[] Ints(string name)
    {
        using var t = Tensor(name);
        return [.. t.data<long>().Select(v => checked((int)v))];
    }

    /// <summary>Loads a fixture tensor from its raw little-endian .bin file (float32 or int64).</summary>
    public Tensor Tensor(string name)
    {
        var entry = _tensors.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Name}: no tensor '{name}' in manifest");
        var bytes = File.ReadAllBytes(Path.Combine(Dir, entry.GetProperty("file").GetString()!));
        var shape = Shape(name);
        return entry.GetProperty("dtype").GetString() switch
        {
            "float32" => torch.tensor(ToArray<float>(bytes), shape, dtype: ScalarType.Float32),
            "int64" => torch.tensor(ToArray<long>(bytes), shape, dtype: ScalarType.Int64),
            var d => throw new NotSupportedException($"{Name}/{name}: dtype {d}"),
        };
    }

    /// <summary>A scalar: plain JSON value or {"value": ...}.</summary>
    public double Scalar(string name)
    {
        var v = Manifest.GetProperty("scalars").GetProperty(name);
        return v.ValueKind == JsonValueKind.Object ? v.GetProperty("value").GetDouble() : v.GetDouble();
    }

    public JsonElement ScalarElement(string name) => Manifest.GetProperty("scalars").GetProperty(name);

    /// <summary>The weights as named tensors read straight from the .safetensors bytes at the manifest's offsets
    /// (independent of our own checkpoint readers, so it can cross-check them).</summary>
    public Dictionary<string, Tensor> RawWeights()
    {
        var file = File.ReadAllBytes(WeightsPath("safetensors"));
        var result = new Dictionary<string, Tensor>();
        foreach (var w in Manifest.GetProperty("weights").GetProperty("tensors").EnumerateArray())
        {
            var shape = w.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offset = w.GetProperty("offset").GetInt64();
            var nbytes = w.GetProperty("nbytes").GetInt64();
            var floats = ToArray<float>(file.AsSpan((int)offset, (int)nbytes).ToArray());
            result[w.GetProperty("name").GetString()!] = torch.tensor(floats, shape, dtype: ScalarType.Float32);
        }
        return result;
    }

    static T[] ToArray<T>(byte[] bytes) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(bytes).ToArray();
}
