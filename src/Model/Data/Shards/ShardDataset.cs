namespace MiniMind.Model.Data.Shards;

/// <summary>
/// A prepared pretrain/SFT/reason directory as an <see cref="ITokenizedDataset"/>: each <see cref="Get"/> reads one
/// record from the memory-mapped shards and allocates only the returned arrays. Thread-safe.
/// </summary>
public sealed class ShardDataset : ITokenizedDataset, IDisposable
{
    readonly ShardSet _set;
    readonly int _maxLength;
    readonly int _padId;
    readonly DataStage _stage;

    ShardDataset(string dir, ShardManifest manifest)
    {
        _set = new ShardSet(dir, manifest);
        _maxLength = manifest.MaxLength;
        _padId = manifest.PadId;
        _stage = manifest.DataStage;
        Directory = dir;
    }

    /// <summary>Opens a prepared directory (not DPO: use <see cref="DpoShardDataset"/>).</summary>
    public static ShardDataset Open(string dir)
    {
        var manifest = ShardManifest.Read(dir);
        if (manifest.DataStage == DataStage.Dpo)
            throw new InvalidDataException($"{dir}: holds DPO pairs; open it with {nameof(DpoShardDataset)}");
        return new ShardDataset(dir, manifest);
    }

    public string Directory { get; }

    public ShardManifest Manifest => _set.Manifest;

    public long Count => _set.Count;

    public int SeqLen => _maxLength - 1;

    public TrainingSample Get(long index)
    {
        var (file, at) = _set.Locate(index);
        float? normalizer = null;
        if (_stage == DataStage.Reason)
        {
            normalizer = file.ReadInt32(at);
            at += 4;
        }
        var x = new int[SeqLen];
        var y = new int[SeqLen];
        var mask = new float[SeqLen];
        var hasMask = _stage != DataStage.Pretrain;
        file.ReadSide(at, _maxLength, _padId, hasMask, x, y, mask);
        if (!hasMask)
            for (var i = 0; i < mask.Length; i++) mask[i] = y[i] != _padId ? 1f : 0f;
        return new TrainingSample(x, y, mask) { LossNormalizer = normalizer };
    }

    /// <summary>The loss normaliser of sample <paramref name="index"/>: for reason data MiniMind's
    /// <c>loss_mask.sum()</c> taken before the tag weights (<see cref="ReasonLossMask.Normalizer"/>); otherwise the mask's sum.</summary>
    public float LossNormalizer(long index)
    {
        if (_stage == DataStage.Reason)
        {
            var (file, at) = _set.Locate(index);
            return file.ReadInt32(at);
        }
        return Get(index).LossMask.Sum();
    }

    public void Dispose() => _set.Dispose();
}
