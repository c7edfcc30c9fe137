using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tests.Fixtures;
using TorchSharp;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Checkpoints;

public class StateDictWriteTests
{
    static readonly FixtureSet Dense = new("dense_tiny");

    [Fact]
    public void Pth_to_safetensors_to_pth_round_trip_is_bit_exact()
    {
        using var dir = new TempDir();
        var original = StateDictFile.Read(Dense.WeightsPath("pth"));
        StateDictFile.Write(dir.File("a.safetensors"), original);
        var viaSafetensors = StateDictFile.Read(dir.File("a.safetensors"));
        StateDictFile.Write(dir.File("b.pth"), viaSafetensors);
        var back = StateDictFile.Read(dir.File("b.pth"));

        var withoutHead = original.Where(kv => kv.Key != TiedWeights.LmHead).ToList();
        AssertStateDictsBitEqual(withoutHead, viaSafetensors);
        AssertStateDictsBitEqual(withoutHead, back);
    }

    [Fact]
    public void Safetensors_loaded_into_a_module_and_saved_as_pth_restores_the_shared_tied_storage()
    {
        using var dir = new TempDir();
        using var module = new TinyMiniMind(TinyConfig.DenseTiny);
        StateDictLoader.LoadFile(module, Dense.WeightsPath("safetensors"));
        StateDictFile.Write(dir.File("m.pth"), module);

        var back = StateDictFile.Read(dir.File("m.pth"));
        var raw = Dense.RawWeights();
        AssertStateDictsBitEqual(raw.OrderBy(kv => kv.Key, StringComparer.Ordinal), back.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        Assert.True(TiedWeights.SameTensor(back[TiedWeights.Embedding], back[TiedWeights.LmHead]));
        var info = ModelInfo.Read(dir.File("m.pth"));
        Assert.Equal(LmHeadLayout.SharedStorage, info.LmHead);
        Assert.Equal(508224, info.ParameterCount);
    }

    [Fact]
    public void Pth_records_are_stored_and_64_byte_aligned_with_the_torch_layout()
    {
        using var dir = new TempDir();
        StateDictFile.Write(dir.File("my-model.v2.pth"), StateDictFile.Read(Dense.WeightsPath("pth")));
        var records = ZipRecords(File.ReadAllBytes(dir.File("my-model.v2.pth")));

        Assert.Equal("my-model_v2/data.pkl", records[0].Name);
        Assert.Equal("my-model_v2/byteorder", records[1].Name);
        Assert.Equal("my-model_v2/version", records[^1].Name);
        // one storage per distinct tensor: 21 keys, the tied pair shares data/0
        Assert.Equal(20, records.Count(r => r.Name.StartsWith("my-model_v2/data/", StringComparison.Ordinal)));
        Assert.All(records, r => Assert.Equal(0, r.Method));
        Assert.All(records, r => Assert.True(r.DataOffset % 64 == 0, $"{r.Name} starts at {r.DataOffset}"));
    }

    [Fact]
    public void Minimind_half_option_writes_float16_with_two_separate_copies_of_the_tied_weight()
    {
        using var dir = new TempDir();
        var original = StateDictFile.Read(Dense.WeightsPath("pth"));
        StateDictFile.Write(dir.File("half.pth"), original, StateDictWriteOptions.MiniMindHalf);
        var back = StateDictFile.Read(dir.File("half.pth"));

        AssertStateDictsBitEqual(original.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float16))), back);
        Assert.False(TiedWeights.SameTensor(back[TiedWeights.Embedding], back[TiedWeights.LmHead]));
        var info = ModelInfo.Read(dir.File("half.pth"));
        Assert.Equal(LmHeadLayout.EqualCopy, info.LmHead);
        Assert.Equal(508224, info.ParameterCount);
        Assert.All(info.Tensors, t => Assert.Equal("float16", t.DType));
    }

    [Fact]
    public void Equal_but_separate_head_is_written_tied_by_default()
    {
        using var dir = new TempDir();
        var twoCopies = StateDictFile.Read(Dense.WeightsPath("pth"));
        twoCopies[TiedWeights.LmHead] = twoCopies[TiedWeights.LmHead].clone();
        StateDictFile.Write(dir.File("t.pth"), twoCopies);
        StateDictFile.Write(dir.File("t.safetensors"), twoCopies);

        Assert.Equal(LmHeadLayout.SharedStorage, ModelInfo.Read(dir.File("t.pth")).LmHead);
        Assert.Equal(LmHeadLayout.Omitted, ModelInfo.Read(dir.File("t.safetensors")).LmHead);
    }

    [Fact]
    public void Different_head_is_kept_in_safetensors()
    {
        using var dir = new TempDir();
        var sd = StateDictFile.Read(Dense.WeightsPath("pth"));
        sd[TiedWeights.LmHead] = sd[TiedWeights.LmHead] * 2f;
        StateDictFile.Write(dir.File("u.safetensors"), sd);
        var back = StateDictFile.Read(dir.File("u.safetensors"));
        AssertBitEqual(sd[TiedWeights.LmHead], back[TiedWeights.LmHead], TiedWeights.LmHead);
        Assert.Equal(LmHeadLayout.DifferentCopy, ModelInfo.Read(dir.File("u.safetensors")).LmHead);
    }

    [Fact]
    public void Safetensors_header_is_space_padded_to_8_and_carries_metadata()
    {
        using var dir = new TempDir();
        var path = dir.File("s.safetensors");
        StateDictFile.Write(path, StateDictFile.Read(Dense.WeightsPath("pth")),
            new StateDictWriteOptions { Metadata = new Dictionary<string, string> { ["step"] = "42" } });
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, n);
        Assert.StartsWith("{\"__metadata__\":", header, StringComparison.Ordinal);
        Assert.EndsWith("}", header.TrimEnd(' '), StringComparison.Ordinal); // JSON, then only space padding
        using var doc = JsonDocument.Parse(header);
        Assert.Equal("pt", doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal("42", ModelInfo.Read(path).Metadata["step"]);
        Assert.False(doc.RootElement.TryGetProperty(TiedWeights.LmHead, out _));
        Assert.Equal(new FileInfo(Dense.WeightsPath("safetensors")).Length - ReadHeaderLength(Dense.WeightsPath("safetensors")), bytes.Length - 8 - n);
    }

    public static TheoryData<string> Formats => new() { "pth", "safetensors" };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_supported_dtype_round_trips_bit_exact(string ext)
    {
        using var dir = new TempDir();
        var f = torch.linspace(-3, 3, 24).reshape(2, 3, 4);
        var sd = new OrderedDictionary<string, Tensor>
        {
            ["f32"] = f,
            ["f16"] = f.to(ScalarType.Float16),
            ["bf16"] = f.to(ScalarType.BFloat16),
            ["f64"] = f.to(ScalarType.Float64),
            ["i64"] = torch.arange(-5, 7, dtype: ScalarType.Int64),
            ["i32"] = torch.arange(-5, 7, dtype: ScalarType.Int32),
            ["i16"] = torch.arange(-5, 7, dtype: ScalarType.Int16),
            ["i8"] = torch.arange(-5, 7, dtype: ScalarType.Int8),
            ["u8"] = torch.arange(0, 250, 10, dtype: ScalarType.Byte),
            ["bool"] = torch.tensor(new[] { true, false, true }),
            ["scalar"] = torch.tensor(3.5f),
            ["empty"] = torch.zeros(0, 4),
        };
        var path = dir.File("all." + ext);
        StateDictFile.Write(path, sd);
        AssertStateDictsBitEqual(sd, StateDictFile.Read(path));
    }

    [Fact]
    public void Pth_keeps_non_contiguous_views_and_their_shared_storage()
    {
        using var dir = new TempDir();
        var basis = torch.arange(24, dtype: ScalarType.Float32).reshape(4, 6);
        var sd = new OrderedDictionary<string, Tensor>
        {
            ["whole"] = basis,
            ["transposed"] = basis.t(),
            ["columns"] = basis[.., 1..4],
            ["row2"] = basis[2],
        };
        StateDictFile.Write(dir.File("v.pth"), sd);
        var back = StateDictFile.Read(dir.File("v.pth"));
        AssertStateDictsBitEqual(sd, back);
        Assert.Equal(sd["transposed"].stride(), back["transposed"].stride());
        Assert.Equal(sd["columns"].storage_offset(), back["columns"].storage_offset());
        Assert.Single(ZipRecords(File.ReadAllBytes(dir.File("v.pth"))), r => r.Name.Contains("/data/", StringComparison.Ordinal));
        var info = ModelInfo.Read(dir.File("v.pth"));
        Assert.Equal("whole", info.Tensors[1].SharesStorageWith);
    }

    [Fact]
    public void Unknown_extension_is_refused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => StateDictFile.Write(dir.File("x.onnx"), new Dictionary<string, Tensor> { ["a"] = torch.zeros(1) }));
        Assert.Contains(".safetensors", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Model_info_lists_keys_shapes_dtypes_and_the_unique_parameter_count()
    {
        foreach (var (set, expected) in new[] { ("dense_tiny", 508224L), ("moe_tiny", 803648L) })
        {
            var fixture = new FixtureSet(set);
            var pth = ModelInfo.Read(fixture.WeightsPath("pth"));
            var st = ModelInfo.Read(fixture.WeightsPath("safetensors"));
            Assert.Equal(expected, pth.ParameterCount);
            Assert.Equal(expected, st.ParameterCount);
            Assert.Equal(LmHeadLayout.SharedStorage, pth.LmHead);
            Assert.Equal(LmHeadLayout.Omitted, st.LmHead);
            var keys = fixture.Manifest.GetProperty("weights").GetProperty("state_dict_keys_in_order").EnumerateArray().Select(k => k.GetString()).ToList();
            Assert.Equal(keys, pth.Tensors.Select(t => t.Name));
            Assert.Equal(TiedWeights.Embedding, pth.Tensors[^1].SharesStorageWith);
            Assert.Equal(new long[] { 6400, 64 }, pth.Tensors[0].Shape);
            var text = pth.ToString();
            Assert.Contains($"{expected:N0}", text, StringComparison.Ordinal);
            Assert.Contains("model.layers.0.self_attn.q_proj.weight", text, StringComparison.Ordinal);
        }
    }

    static long ReadHeaderLength(string path) => 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path));

    internal sealed record ZipRecord(string Name, int Method, long DataOffset, long Size);

    /// <summary>Walks the local file headers of a zip written without data descriptors.</summary>
    internal static List<ZipRecord> ZipRecords(byte[] zip)
    {
        var result = new List<ZipRecord>();
        var pos = 0;
        while (BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(pos)) == 0x04034b50)
        {
            var method = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(pos + 8));
            var size = BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(pos + 18));
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(pos + 26));
            var extraLength = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(pos + 28));
            var name = Encoding.UTF8.GetString(zip, pos + 30, nameLength);
            var data = pos + 30 + nameLength + extraLength;
            result.Add(new ZipRecord(name, method, data, size));
            pos = data + (int)size;
        }
        return result;
    }
}
