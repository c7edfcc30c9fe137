using MiniMind.Actors;

namespace MiniMind.Cluster.Metrics;

/// <summary>What the dashboard's live stream hears from the metrics recorder: rows (steps, held-out evaluations) just written to the store, a run's
/// history rewound (a resume or a worker restart redoes the steps after <see cref="HistoryRewound.AfterStep"/>), an alert.</summary>
public abstract record MetricsUpdate(string Run);
public sealed record RowsWritten(string Run, IReadOnlyList<MetricsRow> Rows) : MetricsUpdate(Run);
public sealed record EvalWritten(string Run, IReadOnlyList<EvalRow> Rows) : MetricsUpdate(Run);
public sealed record HistoryRewound(string Run, long AfterStep) : MetricsUpdate(Run);
public sealed record AlertRaised(Alert Alert) : MetricsUpdate(Alert.Run);

/// <summary>
/// The node's bridge between its <see cref="MetricsRecorder"/> (an actor) and its control endpoint (HTTP handlers): the
/// store the recorder writes (null on a node without a journal), every update it publishes after a write, and the
/// current <see cref="AlertState"/>. Thread-safe; a slow subscriber never holds up the recorder (each gets its own
/// bounded queue from the endpoint and is dropped when it falls behind; its client reconnects and catches up from the store).
/// </summary>
public sealed class MetricsFeed(MetricsStore? store, AlertRules? rules = null)
{
    readonly object gate = new();
    readonly List<Action<MetricsUpdate>> subscribers = [];
    volatile AlertState alerts = AlertState.Empty;

    public MetricsStore? Store { get; } = store;
    public AlertRules Rules { get; } = rules ?? AlertRules.Default;

    /// <summary>The alerts as of the recorder's newest input.</summary>
    public AlertState Alerts
    {
        get => alerts;
        internal set => alerts = value;
    }

    /// <summary>Calls <paramref name="onUpdate"/> (on the recorder's thread: it must not block) for every update from now on.</summary>
    public IDisposable Subscribe(Action<MetricsUpdate> onUpdate)
    {
        lock (gate) subscribers.Add(onUpdate);
        return new Subscription(this, onUpdate);
    }

    public void Publish(MetricsUpdate update)
    {
        Action<MetricsUpdate>[] now;
        lock (gate) now = [.. subscribers];
        foreach (var s in now) s(update);
    }

    sealed class Subscription(MetricsFeed feed, Action<MetricsUpdate> action) : IDisposable
    {
        public void Dispose()
        {
            lock (feed.gate) feed.subscribers.Remove(action);
        }
    }
}
