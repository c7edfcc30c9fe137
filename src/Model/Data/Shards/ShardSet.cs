namespace MiniMind.Model.Data.Shards;

/// <summary>The shards of a prepared directory, mapped, with a global index → (shard, local index) lookup.</summary>
internal sealed class ShardSet : IDisposable
{
    readonly ShardFile[] _files;
    readonly long[] _starts; // global index of each shard's first sample

    public ShardSet(string dir, ShardManifest manifest)
    {
        Manifest = manifest;
        _files = new ShardFile[manifest.Shards.Count];
        _starts = new long[manifest.Shards.Count];
        long total = 0;
        try
        {
            for (var i = 0; i < _files.Length; i++)
            {
                var info = manifest.Shards[i];
                var path = Path.Combine(dir, info.File);
                if (!File.Exists(path)) throw new InvalidDataException($"{path}: shard listed in the manifest is missing");
                _files[i] = new ShardFile(path, manifest.TokenBytes);
                if (_files[i].Count != info.Count) throw new InvalidDataException($"{path}: {_files[i].Count} samples, the manifest says {info.Count}");
                _starts[i] = total;
                total += info.Count;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        if (total != manifest.SampleCount) throw new InvalidDataException($"{dir}: shards hold {total} samples, the manifest says {manifest.SampleCount}");
        Count = total;
    }

    public ShardManifest Manifest { get; }

    public long Count { get; }

    public (ShardFile File, long Start) Locate(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var s = Array.BinarySearch(_starts, index);
        if (s < 0) s = ~s - 1;
        while (s + 1 < _starts.Length && _starts[s + 1] <= index) s++; // skip empty shards (none are written)
        var file = _files[s];
        return (file, file.Record(index - _starts[s]).Start);
    }

    public void Dispose()
    {
        foreach (var f in _files) f?.Dispose();
    }
}
