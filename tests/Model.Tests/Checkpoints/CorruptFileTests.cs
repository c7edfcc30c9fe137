using System.Buffers.Binary;
using System.Text;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Checkpoints.Pickle;
using MiniMind.Model.Tests.Fixtures;
using Xunit;
using static MiniMind.Model.Tests.Checkpoints.CheckpointTestSupport;

namespace MiniMind.Model.Tests.Checkpoints;

/// <summary>Every broken file fails with a CheckpointFormatException that names the file and the problem,
/// never with an exception from deep inside.</summary>
public class CorruptFileTests
{
    static readonly FixtureSet Dense = new("dense_tiny");

    static CheckpointFormatException ReadFails(string path, params string[] expected) => ReadFails(path, true, expected);

    /// <param name="infoFails">ModelInfo reads only the index, so damage inside tensor data escapes it.</param>
    static CheckpointFormatException ReadFails(string path, bool infoFails, params string[] expected)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => StateDictFile.Read(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
        foreach (var s in expected) Assert.Contains(s, e.Message, StringComparison.Ordinal);
        // ModelInfo goes through the same readers
        if (infoFails) Assert.Throws<CheckpointFormatException>(() => ModelInfo.Read(path));
        return e;
    }

    /// <summary>A .pth made by hand: a pickle and raw records under stem "t".</summary>
    static void CraftPth(string path, byte[] pickle, params (string Key, byte[] Data)[] storages)
    {
        using var f = File.Create(path);
        var zip = new AlignedZipWriter(f);
        zip.Add("t/data.pkl", pickle);
        foreach (var (key, data) in storages) zip.Add($"t/data/{key}", data);
        zip.Add("t/version", "3\n"u8);
        zip.Finish();
    }

    /// <summary>The pickle of {name: _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), 0, shape, stride)}.</summary>
    static byte[] OneTensorPickle(string name, long numel, long[] shape, long[] stride, string storageClass = "FloatStorage")
    {
        var p = new PickleWriter();
        p.Proto(2);
        p.EmptyDict();
        p.Mark();
        p.String(name);
        p.Global("torch._utils", "_rebuild_tensor_v2");
        p.Mark();
        p.Mark(); p.String("storage"); p.Global("torch", storageClass); p.String("0"); p.String("cpu"); p.Int(numel); p.Tuple();
        p.BinPersId();
        p.Int(0);
        p.IntTuple(shape);
        p.IntTuple(stride);
        p.Bool(false);
        p.Global("collections", "OrderedDict"); p.EmptyTuple(); p.Reduce();
        p.Tuple();
        p.Reduce();
        p.SetItems();
        p.Stop();
        return p.ToArray();
    }

    [Fact]
    public void Truncated_pth_names_the_file()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Dense.WeightsPath("pth"));
        var path = dir.File("cut.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        ReadFails(path, "truncated or corrupt");
    }

    [Fact]
    public void Pth_whose_record_is_corrupted_in_the_middle_fails_cleanly()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Dense.WeightsPath("pth"));
        var path = dir.File("holes.pth");
        // wipe the local header of the first storage record (data/0 follows data.pkl)
        var at = bytes.AsSpan().IndexOf("dense_tiny/data/0"u8) - 30;
        bytes.AsSpan(at, 40).Clear();
        File.WriteAllBytes(path, bytes);
        ReadFails(path, infoFails: false, "data/0");
    }

    [Fact]
    public void Truncated_safetensors_says_so()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(Dense.WeightsPath("safetensors"));
        var path = dir.File("cut.safetensors");
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        ReadFails(path, "truncated", "only");
        File.WriteAllBytes(path, bytes[..100]);
        ReadFails(path, "truncated", "header");
    }

    static byte[] Safetensors(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var result = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)h.Length);
        h.CopyTo(result, 8);
        return result;
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8, "not valid JSON")]
    [InlineData("{\"a\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2, "F8_E4M3")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8, "needs 12 bytes")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "overlaps")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "hole")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 12, "belong to no tensor")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, "truncated")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "non-negative")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, "end before they begin")]
    [InlineData("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, "no data_offsets")]
    [InlineData("{\"__metadata__\": {\"n\": 3}}", 0, "not a string")]
    [InlineData("{\"a\": 1}", 0, "not a JSON object")]
    public void Bad_safetensors_header_is_reported(string header, int dataBytes, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, Safetensors(header, dataBytes));
        ReadFails(path, expected);
    }

    [Fact]
    public void Huge_safetensors_header_length_is_refused()
    {
        using var dir = new TempDir();
        var path = dir.File("huge.safetensors");
        var bytes = Safetensors("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue / 2);
        bytes[8] = (byte)'{';
        File.WriteAllBytes(path, bytes);
        ReadFails(path, "100 MB");
    }

    [Fact]
    public void Storage_shorter_than_the_tensor_view_needs_is_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("short-view.pth");
        CraftPth(path, OneTensorPickle("w", 10, [4, 4], [4, 1]), ("0", new byte[40]));
        ReadFails(path, "'w'", "needs 16 elements", "holds 10");
    }

    [Fact]
    public void Storage_record_with_fewer_bytes_than_declared_is_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("short-record.pth");
        CraftPth(path, OneTensorPickle("w", 16, [4, 4], [4, 1]), ("0", new byte[40]));
        ReadFails(path, "t/data/0", "holds 40 bytes", "64 bytes");
    }

    [Fact]
    public void Absurd_sizes_are_reported_not_overflowed()
    {
        using var dir = new TempDir();
        var path = dir.File("absurd.pth");
        CraftPth(path, OneTensorPickle("w", long.MaxValue / 2, [long.MaxValue / 4, 8], [8, 1]), ("0", new byte[64]));
        ReadFails(path, "out of range");
    }

    [Fact]
    public void Missing_storage_record_is_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("no-record.pth");
        CraftPth(path, OneTensorPickle("w", 16, [4, 4], [4, 1]));
        ReadFails(path, "t/data/0 is missing");
    }

    [Fact]
    public void Pickle_garbage_is_reported_with_its_position()
    {
        using var dir = new TempDir();
        var path = dir.File("garbage.pth");
        CraftPth(path, [0x80, 0x02, 0xff, 0x00, 0x13]);
        ReadFails(path, "data.pkl", "at byte 2", "unknown pickle opcode 0xff");
    }

    [Fact]
    public void Truncated_pickle_is_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("cut-pickle.pth");
        var pickle = OneTensorPickle("w", 16, [4, 4], [4, 1]);
        CraftPth(path, pickle[..(pickle.Length / 2)], ("0", new byte[64]));
        ReadFails(path, "data.pkl", "ends early");
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("numpy.core.multiarray", "_reconstruct")]
    public void Unknown_global_is_refused_by_name(string module, string name)
    {
        using var dir = new TempDir();
        var path = dir.File("evil.pth");
        var p = new PickleWriter();
        p.Proto(2);
        p.Global(module, name);
        p.Mark(); p.String("echo hi"); p.Tuple();
        p.Reduce();
        p.Stop();
        CraftPth(path, p.ToArray());
        ReadFails(path, $"'{module}.{name}'", "nothing in the file is executed");
    }

    [Fact]
    public void Unsupported_storage_type_is_refused_by_name()
    {
        using var dir = new TempDir();
        var path = dir.File("qint.pth");
        CraftPth(path, OneTensorPickle("w", 4, [4], [1], "QInt8Storage"), ("0", new byte[4]));
        ReadFails(path, "torch.QInt8Storage");
    }

    [Fact]
    public void Pickle_that_is_not_a_state_dict_is_reported()
    {
        using var dir = new TempDir();
        var path = dir.File("list.pth");
        var p = new PickleWriter();
        p.Proto(2);
        p.Mark(); p.Int(1); p.Int(2); p.Tuple();
        p.Stop();
        CraftPth(path, p.ToArray());
        ReadFails(path, "holds a tuple, not a state dict");

        var q = new PickleWriter();
        q.Proto(2);
        q.EmptyDict(); q.Mark(); q.String("epoch"); q.Int(3); q.String("lr"); q.String("x"); q.SetItems();
        q.Stop();
        CraftPth(path, q.ToArray());
        ReadFails(path, "no 'model' state dict", "epoch: int");
    }

    [Fact]
    public void Legacy_torch_format_asks_for_a_re_save()
    {
        using var dir = new TempDir();
        var path = dir.File("legacy.pth");
        // torch < 1.6 files start with a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        ReadFails(path, "legacy", "re-save", "torch.save(torch.load(");
    }

    [Fact]
    public void Other_files_are_named_with_their_first_bytes()
    {
        using var dir = new TempDir();
        var path = dir.File("notes.txt");
        File.WriteAllText(path, "hello, world");
        ReadFails(path, "not a checkpoint", "68656C6C6F");
        File.WriteAllBytes(path, []);
        ReadFails(path, "empty");
    }

    [Fact]
    public void TorchScript_archive_is_told_apart()
    {
        using var dir = new TempDir();
        var path = dir.File("scripted.pt");
        using (var f = File.Create(path))
        {
            var zip = new AlignedZipWriter(f);
            zip.Add("scripted/constants.pkl", [0x80, 0x02, 0x29, 0x2e]);
            zip.Add("scripted/code/__torch__.py", "x"u8);
            zip.Finish();
        }
        ReadFails(path, "TorchScript");
    }

    [Fact]
    public void Missing_file_is_a_file_not_found_naming_it()
    {
        var e = Assert.Throws<FileNotFoundException>(() => StateDictFile.Read("/nonexistent/x.pth"));
        Assert.Contains("/nonexistent/x.pth", e.Message, StringComparison.Ordinal);
    }
}
