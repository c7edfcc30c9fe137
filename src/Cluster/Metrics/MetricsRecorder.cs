using Akka.Actor;
using Akka.Event;
using MiniMind.Actors;

namespace MiniMind.Cluster.Metrics;

/// <summary>
/// Keeps every committed step of the runs of this node's run manager (issue 14): subscribes to <see cref="StepRecorded"/>
/// on the local EventStream, buffers rows and writes them in one transaction every <see cref="Settings.FlushRows"/> rows or
/// <see cref="Settings.FlushInterval"/>, to the journal's database (<see cref="MetricsStore"/>) and then to the run's
/// TensorBoard files (<see cref="TensorBoardLog"/>). Runs on its own pinned thread: a slow disk or database never holds up
/// the coordinator (which only tells its listener), and the step path pays one EventStream publish per step.
/// A run's first row after this actor started, or a row at or before the newest step it saw (a resume, a worker
/// reloaded from a checkpoint), rewinds the history to the step before it: rows past it are dropped from the store and
/// the TensorBoard files, so a step redone is kept once, with its new values. Rows flushed before a kill -9 stay.
/// Lives beside the run manager (<see cref="Nodes.NodeHosting.WithRunManager"/>): a singleton moved to another node finds
/// one there, which writes to the same journal.
/// </summary>
public sealed class MetricsRecorder : ReceiveActor, IWithTimers
{
    public const string Name = "metrics-recorder";
    public const string DispatcherId = "minimind-metrics-dispatcher";

    /// <summary>How often rows go to the database: every <paramref name="FlushRows"/> rows of a run, or
    /// <paramref name="FlushInterval"/> after the first unwritten one.</summary>
    public sealed record Settings(int FlushRows, TimeSpan FlushInterval)
    {
        public static Settings Default { get; } = new(100, TimeSpan.FromSeconds(2));
    }

    /// <summary>Write everything buffered now; replies <see cref="Flushed"/> (tests, bench).</summary>
    public sealed record FlushMetrics(string RequestId);
    public sealed record Flushed(string RequestId, long Rows);
    sealed record Tick;

    sealed class RunHistory(string runDir, string runName, bool tensorBoard)
    {
        public readonly List<MetricsRow> Pending = [];
        public readonly TensorBoardLog? Board = tensorBoard ? new TensorBoardLog(runDir, runName) : null;
        public long NewestStep = -1;
    }

    readonly MetricsStore store;
    readonly Settings settings;
    readonly ILoggingAdapter log = Context.GetLogger();
    readonly Dictionary<string, RunHistory> runs = [];
    long written;
    string? lastError;

    public ITimerScheduler Timers { get; set; } = null!;

    public MetricsRecorder(MetricsStore store, Settings settings)
    {
        this.store = store;
        this.settings = settings;
        Receive<StepRecorded>(OnStep);
        Receive<Tick>(_ => FlushAll());
        Receive<RunHistoryEnded>(e =>
        {
            if (runs.Remove(e.PersistenceId, out var h)) Flush(e.PersistenceId, h);
        });
        Receive<FlushMetrics>(f =>
        {
            FlushAll();
            Sender.Tell(new Flushed(f.RequestId, written));
        });
    }

    public static Props Props(MetricsStore store, Settings? settings = null) =>
        Akka.Actor.Props.Create(() => new MetricsRecorder(store, settings ?? Settings.Default));

    /// <summary>On the pinned <see cref="DispatcherId"/> when the host configures it.</summary>
    public static Props PropsFor(ActorSystem system, MetricsStore store, Settings? settings = null) =>
        system.Dispatchers.HasDispatcher(DispatcherId) ? Props(store, settings).WithDispatcher(DispatcherId) : Props(store, settings);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(StepRecorded));
        Context.System.EventStream.Subscribe(Self, typeof(RunHistoryEnded));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        FlushAll();
    }

    void OnStep(StepRecorded s)
    {
        if (!runs.TryGetValue(s.PersistenceId, out var h)) runs[s.PersistenceId] = h = new RunHistory(s.RunDir, s.RunName, s.TensorBoard);
        if (h.NewestStep < 0 || s.Row.Step <= h.NewestStep)
        {
            Flush(s.PersistenceId, h);
            Rewind(s.PersistenceId, h, s.Row.Step - 1);
        }
        h.Pending.Add(s.Row);
        h.NewestStep = s.Row.Step;
        if (h.Pending.Count >= settings.FlushRows) Flush(s.PersistenceId, h);
        else if (h.Pending.Count == 1) Timers.StartSingleTimer("flush", new Tick(), settings.FlushInterval);
    }

    void Rewind(string run, RunHistory h, long afterStep)
    {
        h.Pending.RemoveAll(r => r.Step > afterStep);
        try
        {
            store.Truncate(run, afterStep);
            h.Board?.Rewind(afterStep, after => store.Read(run, after + 1, afterStep));
        }
        catch (Exception ex)
        {
            Warn($"metrics of {run}: could not rewind to step {afterStep}: {ex.Message}");
        }
    }

    void FlushAll()
    {
        foreach (var (run, h) in runs) Flush(run, h);
    }

    /// <summary>Store first, then TensorBoard: the files never hold a step the store lacks. A failed write keeps the rows
    /// for the next flush (up to 100,000 of them) and logs once.</summary>
    void Flush(string run, RunHistory h)
    {
        if (h.Pending.Count == 0) return;
        var rows = h.Pending.ToList();
        try
        {
            store.Upsert(run, rows);
        }
        catch (Exception ex)
        {
            Warn($"metrics of {run}: {rows.Count} step(s) not written yet ({ex.Message}); retrying");
            if (h.Pending.Count > 100_000) h.Pending.RemoveRange(0, h.Pending.Count - 100_000);
            Timers.StartSingleTimer("flush", new Tick(), settings.FlushInterval);
            return;
        }
        h.Pending.Clear();
        written += rows.Count;
        lastError = null;
        try
        {
            h.Board?.Write(rows);
        }
        catch (Exception ex)
        {
            Warn($"tensorboard files of {run}: {ex.Message}");
        }
    }

    void Warn(string text)
    {
        if (text == lastError) return;
        lastError = text;
        log.Warning(text);
    }
}
