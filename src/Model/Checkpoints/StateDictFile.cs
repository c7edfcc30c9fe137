using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// Reads and writes state dicts as PyTorch <c>.pth</c> (torch.save zip format) or <c>.safetensors</c>.
/// Reading tells the formats apart by their first bytes; writing picks the format from the extension.
/// Tensors come back on the CPU in the file's dtype; a tied weight in a .pth comes back as two views of one
/// storage (as torch.load gives); a .safetensors file written for MiniMind has no <c>lm_head.weight</c>
/// (<see cref="StateDictLoader"/> re-ties it). Bad files fail with <see cref="CheckpointFormatException"/>.
/// </summary>
public static class StateDictFile
{
    /// <summary>Reads a state dict, keeping the file's key order. For a .pth holding a MiniMind resume dict
    /// (<c>{'model': state_dict, 'optimizer': …}</c>) this is its <c>model</c> entry.</summary>
    public static OrderedDictionary<string, Tensor> Read(string path) => Read(path, entry: null);

    /// <summary>Reads the state dict stored under <paramref name="entry"/> of a .pth's top-level dict
    /// (null: the file itself, or its <c>model</c> entry as above).</summary>
    public static OrderedDictionary<string, Tensor> Read(string path, string? entry)
    {
        using var source = Open(path, entry);
        var result = new OrderedDictionary<string, Tensor>();
        try
        {
            foreach (var e in source.Entries) result.Add(e.Name, source.Load(e));
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Writes <paramref name="stateDict"/> (in its enumeration order) to <paramref name="path"/>:
    /// <c>.safetensors</c> → safetensors; <c>.pth</c>, <c>.pt</c>, <c>.bin</c>, <c>.ckpt</c> → torch zip format.
    /// The file is written to <c>path.tmp</c> first and then renamed over <paramref name="path"/>.
    /// Storage sharing is detected on the CPU; tensors on another device are copied to the CPU one by one,
    /// so only the lm_head tie (by value, see <see cref="StateDictWriteOptions.TieLmHead"/>) survives for them.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> stateDict, StateDictWriteOptions? options = null)
    {
        options ??= StateDictWriteOptions.Default;
        var safetensors = IsSafetensorsPath(path);
        using var staged = new StagedTensors(stateDict, options);
        var tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                if (safetensors) SafetensorsWriter.Write(stream, staged, options);
                else PthWriter.Write(stream, PthWriter.StemFor(path), staged, options);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Writes a module's state_dict(); see <see cref="Write(string, IEnumerable{KeyValuePair{string, Tensor}}, StateDictWriteOptions?)"/>.</summary>
    public static void Write(string path, TorchSharp.torch.nn.Module module, StateDictWriteOptions? options = null) =>
        Write(path, module.state_dict(), options);

    static bool IsSafetensorsPath(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".safetensors" => true,
            ".pth" or ".pt" or ".bin" or ".ckpt" => false,
            _ => throw new ArgumentException($"{path}: cannot tell the checkpoint format from the extension '{ext}'; use .pth (torch.save zip format) or .safetensors", nameof(path)),
        };
    }

    internal static CheckpointSource Open(string path, string? entry = null)
    {
        try
        {
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("checkpoint I/O assumes a little-endian machine");
            var kind = FileSniffer.Sniff(path);
            if (kind == FileKind.Safetensors && entry is not null)
                throw new CheckpointFormatException(path, $"a safetensors file has no dict entries; cannot read entry '{entry}'");
            return kind == FileKind.Zip ? PthSource.Open(path, entry) : SafetensorsSource.Open(path);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException || (e is IOException && e is not FileNotFoundException))
        {
            throw new CheckpointFormatException(path, $"cannot be read: {e.Message}", e);
        }
    }
}
