namespace MiniMind.Model.Data.Shards;

/// <summary>One DPO pair as the trainer consumes it: <c>x_chosen</c>, <c>y_chosen</c>, <c>mask_chosen</c> and the same for rejected.</summary>
public sealed record DpoTrainingPair(TrainingSample Chosen, TrainingSample Rejected);

/// <summary>A prepared DPO directory: random, thread-safe access to pairs from the memory-mapped shards.</summary>
public sealed class DpoShardDataset : IDisposable
{
    readonly ShardSet _set;
    readonly int _maxLength;
    readonly int _padId;

    DpoShardDataset(string dir, ShardManifest manifest)
    {
        _set = new ShardSet(dir, manifest);
        _maxLength = manifest.MaxLength;
        _padId = manifest.PadId;
        Directory = dir;
    }

    public static DpoShardDataset Open(string dir)
    {
        var manifest = ShardManifest.Read(dir);
        if (manifest.DataStage != DataStage.Dpo)
            throw new InvalidDataException($"{dir}: holds {manifest.Stage} samples, not DPO pairs; open it with {nameof(ShardDataset)}");
        return new DpoShardDataset(dir, manifest);
    }

    public string Directory { get; }

    public ShardManifest Manifest => _set.Manifest;

    public long Count => _set.Count;

    public int SeqLen => _maxLength - 1;

    public DpoTrainingPair Get(long index)
    {
        var (file, at) = _set.Locate(index);
        var chosen = NewSample();
        at = file.ReadSide(at, _maxLength, _padId, hasMask: true, chosen.X, chosen.Y, chosen.LossMask);
        var rejected = NewSample();
        file.ReadSide(at, _maxLength, _padId, hasMask: true, rejected.X, rejected.Y, rejected.LossMask);
        return new DpoTrainingPair(chosen, rejected);
    }

    TrainingSample NewSample() => new(new int[SeqLen], new int[SeqLen], new float[SeqLen]);

    public void Dispose() => _set.Dispose();
}
