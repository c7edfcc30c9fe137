using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;

namespace MiniMind.Actors.Stages;

/// <summary>DPO pairs as an <see cref="ITokenizedDataset"/>: sample i is pair i as one double-width row, the chosen
/// side's T positions then the rejected side's (<see cref="SeqLen"/> = 2T). The data loader and the worker protocol
/// stay as they are; <see cref="DpoObjective"/> splits a (B, 2T) micro-batch into MiniMind's (2B, T) batch, chosen
/// rows first.</summary>
public sealed class DpoPairDataset(DpoShardDataset pairs) : ITokenizedDataset, IDisposable
{
    public long Count => pairs.Count;

    /// <summary>2T: both sides of a pair.</summary>
    public int SeqLen => 2 * pairs.SeqLen;

    public TrainingSample Get(long index)
    {
        var p = pairs.Get(index);
        return new TrainingSample([.. p.Chosen.X, .. p.Rejected.X], [.. p.Chosen.Y, .. p.Rejected.Y], [.. p.Chosen.LossMask, .. p.Rejected.LossMask]);
    }

    public void Dispose() => pairs.Dispose();
}
