using System.IO.Compression;
using MiniMind.Model.Checkpoints.Pickle;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A torch.save zip archive (torch ≥ 1.6): <c>&lt;stem&gt;/data.pkl</c> (the pickled object),
/// <c>&lt;stem&gt;/data/&lt;key&gt;</c> (one raw little-endian record per storage), <c>&lt;stem&gt;/version</c>
/// and, from torch 2.x, <c>&lt;stem&gt;/byteorder</c>. The stem is whatever the writer chose.
/// The pickled object must be a state dict (a dict of tensors) or a dict whose <c>model</c> entry is one,
/// as in MiniMind's resume checkpoints (<c>{'model': …, 'optimizer': …, 'epoch': …}</c>); other entries are
/// parsed (so they must use only allowed globals) but not loaded.
/// </summary>
internal sealed class PthSource : CheckpointSource
{
    readonly FileStream _file;
    readonly ZipArchive _zip;
    readonly string _stem;
    readonly List<CheckpointEntry> _entries = [];
    readonly Dictionary<string, StorageRef> _storages = [];
    readonly Dictionary<string, Tensor> _loaded = [];

    PthSource(string path, FileStream file, ZipArchive zip, string stem) : base(path)
    {
        _file = file;
        _zip = zip;
        _stem = stem;
    }

    public override string Format => "pth";

    public override IReadOnlyList<CheckpointEntry> Entries => _entries;

    public override string Entry => _entry;

    string _entry = "";

    public static PthSource Open(string path, string? entry = null)
    {
        var file = File.OpenRead(path);
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            file.Dispose();
            throw new CheckpointFormatException(path, $"the zip archive is truncated or corrupt ({e.Message})", e);
        }
        try
        {
            var stem = FindStem(path, zip);
            var source = new PthSource(path, file, zip, stem);
            source.ReadIndex(entry);
            return source;
        }
        catch (OverflowException e)
        {
            zip.Dispose();
            throw new CheckpointFormatException(path, "a tensor's size, stride or offset is out of range (arithmetic overflow): the file is corrupt", e);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    static string FindStem(string path, ZipArchive zip)
    {
        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                             && e.FullName.IndexOf('/', StringComparison.Ordinal) == e.FullName.Length - "/data.pkl".Length).ToList();
        if (pickles.Count == 1) return pickles[0].FullName[..^"/data.pkl".Length];
        if (pickles.Count > 1)
            throw new CheckpointFormatException(path, $"the archive holds {pickles.Count} data.pkl records ({string.Join(", ", pickles.Select(p => p.FullName))}); expected one");
        if (zip.Entries.Any(e => e.FullName.EndsWith("/constants.pkl", StringComparison.Ordinal)))
            throw new CheckpointFormatException(path, "this is a TorchScript archive (torch.jit.save), not a torch.save state dict");
        throw new CheckpointFormatException(path, "a zip archive without <name>/data.pkl: not a torch.save file");
    }

    void ReadIndex(string? entry)
    {
        var byteorder = ReadRecordText("byteorder");
        if (byteorder is not null && byteorder.Trim() != "little")
            throw Error($"the storages are {byteorder.Trim()}-endian; only little-endian files are supported");

        var pickle = ReadRecord($"{_stem}/data.pkl") ?? throw Error($"{_stem}/data.pkl is missing");
        object? root;
        try
        {
            root = new Unpickler(pickle, TorchPickle.ResolveGlobal, TorchPickle.PersistentLoader()).Load();
        }
        catch (PickleException e)
        {
            throw Error($"{_stem}/data.pkl: {e.Message}", e);
        }

        Root = root;
        var (dict, dictPath) = SelectStateDict(root, entry);
        _entry = dictPath;
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) throw Error($"state dict{Where()} has a non-string key {PickleFormat.TypeName(key)} ({key})");
            if (value is not PickledTensor t) throw Error($"state dict{Where()} entry '{name}' is a {PickleFormat.TypeName(value)}, not a tensor");
            _storages[t.Storage.Key] = t.Storage;
            var needed = RequiredNumel(t.Offset, t.Shape, t.Stride);
            if (needed > t.Storage.Numel)
                throw Error($"tensor '{name}' [{string.Join(", ", t.Shape)}] needs {needed} elements of storage data/{t.Storage.Key}, which holds {t.Storage.Numel}");
            _entries.Add(new CheckpointEntry(name, t.Storage.DType, t.Shape, t.Stride, t.Offset, t.Storage.Key));
        }
        foreach (var storage in _storages.Values) StorageRecord(storage);
    }

    /// <summary>The zip record of a storage, checked to exist and to hold the bytes the pickle declares.</summary>
    ZipArchiveEntry StorageRecord(StorageRef storage)
    {
        var name = $"{_stem}/data/{storage.Key}";
        var record = _zip.GetEntry(name) ?? throw Error($"storage record {name} is missing");
        var needed = checked(storage.Numel * TensorDType.ElementSize(storage.DType));
        if (record.Length < needed)
            throw Error($"storage record {name} holds {record.Length} bytes, but the pickle declares {storage.Numel} {TensorDType.Name(storage.DType)} elements ({needed} bytes): the file is truncated or corrupt");
        if (needed > int.MaxValue) throw Error($"storage record {name} is {needed} bytes; storages over 2 GiB are not supported");
        return record;
    }

    /// <summary>The whole unpickled object (for a resume dict's other entries: <see cref="MiniMindResume"/>).</summary>
    internal object? Root { get; private set; }

    /// <summary>A copy of a tensor anywhere in <see cref="Root"/> (its storage is checked as the state dict's are).</summary>
    internal Tensor Materialize(PickledTensor t, string name)
    {
        var needed = RequiredNumel(t.Offset, t.Shape, t.Stride);
        if (needed > t.Storage.Numel)
            throw Error($"tensor '{name}' [{string.Join(", ", t.Shape)}] needs {needed} elements of storage data/{t.Storage.Key}, which holds {t.Storage.Numel}");
        var storage = LoadStorage(t.Storage);
        using var _ = torch.no_grad();
        using var view = storage.as_strided(t.Shape, t.Stride, t.Offset);
        return view.clone();
    }

    string Where() => _entry.Length == 0 ? "" : $" '{_entry}'";

    (PickleDict Dict, string Path) SelectStateDict(object? root, string? entry)
    {
        if (root is not PickleDict top) throw Error($"the pickle holds a {PickleFormat.TypeName(root)}, not a state dict (a dict of tensors)");
        if (entry is not null)
        {
            return top.TryGetValue(entry, out var chosen) && chosen is PickleDict d
                ? (d, entry)
                : throw Error($"the checkpoint has no dict entry '{entry}' (top-level keys: {Keys(top)})");
        }
        if (top.Items.All(kv => kv.Value is PickledTensor)) return (top, "");
        if (top.TryGetValue("model", out var model) && model is PickleDict m && m.Items.All(kv => kv.Value is PickledTensor))
            return (m, "model");
        throw Error($"the pickle is a dict with non-tensor entries and no 'model' state dict (top-level keys: {Keys(top)}); " +
                    "expected a state dict or a MiniMind resume dict {'model': state_dict, ...}");
    }

    static string Keys(PickleDict d) => string.Join(", ", d.Items.Take(20).Select(kv => $"{kv.Key}: {PickleFormat.TypeName(kv.Value)}"));

    public override Tensor Load(CheckpointEntry entry)
    {
        var storage = LoadStorage(_storages[entry.StorageKey]);
        using var _ = torch.no_grad();
        return storage.as_strided(entry.Shape, entry.Stride, entry.StorageOffset);
    }

    Tensor LoadStorage(StorageRef storage)
    {
        if (_loaded.TryGetValue(storage.Key, out var cached)) return cached;
        var record = StorageRecord(storage);
        var name = record.FullName;
        var tensor = torch.empty(storage.Numel, dtype: storage.DType);
        try
        {
            using var stream = record.Open();
            stream.ReadExactly(tensor.bytes);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            tensor.Dispose();
            throw Error($"storage record {name} cannot be read: {e.Message}", e);
        }
        _loaded[storage.Key] = tensor;
        return tensor;
    }

    byte[]? ReadRecord(string name)
    {
        var record = _zip.GetEntry(name);
        if (record is null) return null;
        try
        {
            using var stream = record.Open();
            var bytes = new byte[record.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            throw Error($"record {name} cannot be read: {e.Message}", e);
        }
    }

    string? ReadRecordText(string leaf)
    {
        var bytes = ReadRecord($"{_stem}/{leaf}");
        return bytes is null ? null : System.Text.Encoding.ASCII.GetString(bytes);
    }

    public override void Dispose()
    {
        foreach (var t in _loaded.Values) t.Dispose(); // the views handed out keep their storage alive
        _loaded.Clear();
        _zip.Dispose();
        _file.Dispose();
    }
}
