using System.Collections.Immutable;

namespace MiniMind.Actors;

/// <summary>Count, sum, last and max of a latency (journal write, checkpoint write), for /metrics and <c>actor health</c>.</summary>
public sealed record LatencyStats(long Count, TimeSpan Sum, TimeSpan Last, TimeSpan Max)
{
    public static LatencyStats Empty { get; } = new(0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);

    public LatencyStats Add(TimeSpan t) => new(Count + 1, Sum + t, t, t > Max ? t : Max);

    public TimeSpan Mean => Count == 0 ? TimeSpan.Zero : Sum / Count;
}

/// <summary>What the coordinator knows of one child: restarts, the last message it got from it, a rate of completed
/// work items (steps for the worker, step batches for the loader, checkpoints for the writer) over the newest
/// <see cref="HealthBook.RateWindow"/> items, and the bytes it holds where that is known.</summary>
public sealed record ChildHealth(string Name, int Restarts, DateTimeOffset? LastMessage, long Messages, ImmutableList<DateTimeOffset> Recent, long MemoryBytes)
{
    public static ChildHealth New(string name) => new(name, 0, null, 0, [], 0);

    /// <summary>Items per second over the recent window; 0 with fewer than two items.</summary>
    public double Rate => Recent.Count < 2 ? 0 : (Recent.Count - 1) / Math.Max(1e-9, (Recent[^1] - Recent[0]).TotalSeconds);
}

/// <summary>The coordinator's view of its children's health, changed only by pure functions (unit-tested without an
/// ActorSystem); the coordinator records what it sees and answers <see cref="TrainingCoordinator.FetchActorHealth"/>.</summary>
public sealed record HealthBook
{
    public const int RateWindow = 20;

    public static HealthBook Empty { get; } = new();

    public ImmutableSortedDictionary<string, ChildHealth> Children { get; init; } = ImmutableSortedDictionary<string, ChildHealth>.Empty;
    public LatencyStats Journal { get; init; } = LatencyStats.Empty;
    public LatencyStats Checkpoint { get; init; } = LatencyStats.Empty;

    ChildHealth Get(string child) => Children.TryGetValue(child, out var h) ? h : ChildHealth.New(child);

    HealthBook Put(ChildHealth h) => this with { Children = Children.SetItem(h.Name, h) };

    /// <summary>The child exists (created); nothing heard from it yet.</summary>
    public HealthBook Created(string child) => Children.ContainsKey(child) ? this : Put(ChildHealth.New(child));

    /// <summary>A message from <paramref name="child"/> at <paramref name="at"/>; <paramref name="completesWork"/> counts it
    /// toward the child's rate.</summary>
    public HealthBook Seen(string child, DateTimeOffset at, bool completesWork = false)
    {
        var h = Get(child);
        var recent = completesWork ? h.Recent.Add(at) : h.Recent;
        if (recent.Count > RateWindow) recent = recent.RemoveRange(0, recent.Count - RateWindow);
        return Put(h with { LastMessage = at, Messages = h.Messages + 1, Recent = recent });
    }

    /// <summary>The child was restarted by its supervisor; its rate window starts again.</summary>
    public HealthBook Restarted(string child) => Put(Get(child) with { Restarts = Get(child).Restarts + 1, Recent = [] });

    public HealthBook Holds(string child, long bytes) => Put(Get(child) with { MemoryBytes = bytes });

    public HealthBook JournalWrite(TimeSpan t) => this with { Journal = Journal.Add(t) };

    public HealthBook CheckpointWrite(TimeSpan t) => this with { Checkpoint = Checkpoint.Add(t) };
}
