using System.Collections.Immutable;
using static MiniMind.Actors.DataLoader;

namespace MiniMind.Actors;

/// <summary>
/// The coordinator's step pipeline on the data side: batches the <see cref="DataLoader"/> delivered, the steps asked
/// for and not yet delivered, and the step in flight. The loader is kept one step ahead of the next step to run.
/// A record changed only by pure functions, tested without an ActorSystem.
/// </summary>
public sealed record StepBuffer
{
    public static StepBuffer Empty { get; } = new();

    public ImmutableDictionary<long, StepBatches> Ready { get; init; } = ImmutableDictionary<long, StepBatches>.Empty;
    public ImmutableHashSet<long> Requested { get; init; } = [];
    /// <summary>The batches of the step started last (cleared when it is committed).</summary>
    public StepBatches? InFlight { get; init; }

    public StepBuffer Received(StepBatches batches) => this with { Ready = Ready.SetItem(batches.Step, batches) };

    /// <summary>Bytes the buffered batches hold (inputs, masks and sample indices), for <c>actor health</c>.</summary>
    public long BytesHeld => Ready.Values.Sum(b => b.Micro.Sum(m => m.X.Length * 8L + m.Mask.Length * 4L + m.Samples.Length * 8L));

    /// <summary>The steps to ask the loader for so that <paramref name="next"/> and the one after it (below
    /// <paramref name="total"/>) are delivered or on their way; each is asked for once.</summary>
    public (StepBuffer Buffer, IReadOnlyList<long> Fetch) Prefetch(long next, long total)
    {
        var fetch = new List<long>();
        var requested = Requested;
        for (var s = next; s <= next + 1 && s < total; s++)
            if (!Ready.ContainsKey(s) && !requested.Contains(s))
            {
                requested = requested.Add(s);
                fetch.Add(s);
            }
        return (this with { Requested = requested }, fetch);
    }

    public StepBatches? For(long step) => Ready.GetValueOrDefault(step);

    public StepBuffer Started(StepBatches batches) => this with { InFlight = batches };

    /// <summary>Step <paramref name="step"/> is committed: its batches are no longer needed.</summary>
    public StepBuffer Done(long step) => this with { InFlight = null, Ready = Ready.Remove(step), Requested = Requested.Remove(step) };
}
