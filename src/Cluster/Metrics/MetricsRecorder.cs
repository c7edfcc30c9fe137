using Akka.Actor;
using Akka.Event;
using MiniMind.Actors;
using static MiniMind.Actors.TrainingCoordinator;

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
/// It also feeds the alert rules (<see cref="AlertState"/>): every step, a step that diverged and a worker restart (from
/// the run manager's reports), and a clock tick each second for stalls; each alert raised is one warning log line, and it
/// and every write go to the node's <see cref="MetricsFeed"/> (the dashboard's live stream, the <c>/metrics</c> gauges).
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
    sealed record AlertTick;

    sealed class RunHistory(string runDir, string runName, bool tensorBoard)
    {
        public readonly List<MetricsRow> Pending = [];
        public readonly List<EvalRow> PendingEval = [];
        public readonly TensorBoardLog? Board = tensorBoard ? new TensorBoardLog(runDir, runName) : null;
        public long NewestStep = -1;
    }

    readonly MetricsStore store;
    readonly Settings settings;
    readonly MetricsFeed feed;
    /// <summary>The run manager's run ids → their histories' persistence ids (for the reports, which carry the former).</summary>
    readonly Dictionary<string, string> historyOf = [];
    readonly ILoggingAdapter log = Context.GetLogger();
    readonly Dictionary<string, RunHistory> runs = [];
    long written;
    string? lastError;

    public ITimerScheduler Timers { get; set; } = null!;

    public MetricsRecorder(MetricsStore store, Settings settings, MetricsFeed? feed)
    {
        this.store = store;
        this.settings = settings;
        this.feed = feed ?? new MetricsFeed(store);
        Receive<StepRecorded>(OnStep);
        Receive<EvalRecorded>(OnEval);
        Receive<Tick>(_ => FlushAll());
        Receive<AlertTick>(_ => Alerts(this.feed.Alerts.Tick(DateTimeOffset.UtcNow, this.feed.Rules)));
        Receive<RunHistoryBegan>(OnBegan);
        Receive<RunReported>(OnReport);
        Receive<RunHistoryEnded>(e =>
        {
            if (runs.Remove(e.PersistenceId, out var h)) Flush(e.PersistenceId, h);
            Alerts(this.feed.Alerts.Ended(e.PersistenceId));
            Try(() => store.Ended(e.PersistenceId, DateTimeOffset.UtcNow), $"metrics of {e.PersistenceId}: could not note its end");
        });
        Receive<FlushMetrics>(f =>
        {
            FlushAll();
            Sender.Tell(new Flushed(f.RequestId, written));
        });
    }

    public static Props Props(MetricsStore store, Settings? settings = null, MetricsFeed? feed = null) =>
        Akka.Actor.Props.Create(() => new MetricsRecorder(store, settings ?? Settings.Default, feed));

    /// <summary>On the pinned <see cref="DispatcherId"/> when the host configures it.</summary>
    public static Props PropsFor(ActorSystem system, MetricsStore store, Settings? settings = null, MetricsFeed? feed = null) =>
        system.Dispatchers.HasDispatcher(DispatcherId) ? Props(store, settings, feed).WithDispatcher(DispatcherId) : Props(store, settings, feed);

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(StepRecorded));
        Context.System.EventStream.Subscribe(Self, typeof(EvalRecorded));
        Context.System.EventStream.Subscribe(Self, typeof(RunHistoryEnded));
        Context.System.EventStream.Subscribe(Self, typeof(RunHistoryBegan));
        Context.System.EventStream.Subscribe(Self, typeof(RunReported));
        Timers.StartPeriodicTimer("alerts", new AlertTick(), TimeSpan.FromSeconds(1));
    }

    void OnBegan(RunHistoryBegan b)
    {
        historyOf[b.RunId] = b.PersistenceId;
        Alerts(feed.Alerts.Began(b.PersistenceId, DateTimeOffset.UtcNow));
        Try(() => store.Began(b.PersistenceId, b.RunName, b.Stage, b.RunDir, b.SettingsJson, DateTimeOffset.UtcNow), $"metrics of {b.PersistenceId}: could not note its start");
    }

    /// <summary>The alerts the run's reports raise, from their types and fields (never their wording): a worker that failed
    /// (<see cref="WorkerFailed"/>) and a step that diverged (<see cref="FailureKind.Diverged"/>).</summary>
    void OnReport(RunReported r)
    {
        if (!historyOf.TryGetValue(r.RunId, out var run)) return;
        var now = DateTimeOffset.UtcNow;
        switch (r.Report)
        {
            case WorkerFailed w:
                Alerts(feed.Alerts.WorkerRestarted(run, $"worker failed ({w.Reason}); restart {w.Restart}", now));
                break;
            case TrainingFinished { Outcome: Outcome.Failed, Failure: FailureKind.Diverged, Diverged: { } d }:
                Alerts(feed.Alerts.Diverged(run, d.Step, d.What, now));
                break;
        }
    }

    /// <summary>Takes the new alert state; each alert raised is one log line and one update of the feed.</summary>
    void Alerts((AlertState State, IReadOnlyList<Alert> Raised) change)
    {
        feed.Alerts = change.State;
        foreach (var a in change.Raised)
        {
            log.Warning(a.LogLine);
            feed.Publish(new AlertRaised(a));
        }
    }

    void Alerts(AlertState state) => feed.Alerts = state;

    void Try(Action write, string what)
    {
        try { write(); }
        catch (Exception ex) { Warn($"{what}: {ex.Message}"); }
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
        Alerts(feed.Alerts.Step(s.PersistenceId, s.Row.Step, s.Row.Loss, s.Row.GradNorm, s.Row.StepSeconds, DateTimeOffset.UtcNow, feed.Rules));
        if (h.Pending.Count >= settings.FlushRows) Flush(s.PersistenceId, h);
        else if (h.Pending.Count == 1) Timers.StartSingleTimer("flush", new Tick(), settings.FlushInterval);
    }

    /// <summary>A held-out evaluation: kept with the run's steps (the same flushes, the same rewinds). It follows its step's
    /// <see cref="StepRecorded"/>, so it never starts a run's history or rewinds it.</summary>
    void OnEval(EvalRecorded e)
    {
        if (!runs.TryGetValue(e.PersistenceId, out var h)) runs[e.PersistenceId] = h = new RunHistory(e.RunDir, e.RunName, e.TensorBoard);
        h.PendingEval.RemoveAll(x => x.Step == e.Row.Step);
        h.PendingEval.Add(e.Row);
        if (!Timers.IsTimerActive("flush")) Timers.StartSingleTimer("flush", new Tick(), settings.FlushInterval);
    }

    void Rewind(string run, RunHistory h, long afterStep)
    {
        h.Pending.RemoveAll(r => r.Step > afterStep);
        h.PendingEval.RemoveAll(r => r.Step > afterStep);
        try
        {
            store.Truncate(run, afterStep);
            feed.Publish(new HistoryRewound(run, afterStep));
            h.Board?.Rewind(afterStep, after => store.Read(run, after + 1, afterStep), () => store.ReadEval(run, 1, afterStep));
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
        if (h.Pending.Count == 0 && h.PendingEval.Count == 0) return;
        var rows = h.Pending.ToList();
        var evals = h.PendingEval.ToList();
        try
        {
            store.Upsert(run, rows, evals);
        }
        catch (Exception ex)
        {
            Warn($"metrics of {run}: {rows.Count} step(s) not written yet ({ex.Message}); retrying");
            if (h.Pending.Count > 100_000) h.Pending.RemoveRange(0, h.Pending.Count - 100_000);
            Timers.StartSingleTimer("flush", new Tick(), settings.FlushInterval);
            return;
        }
        h.Pending.Clear();
        h.PendingEval.Clear();
        written += rows.Count;
        if (rows.Count > 0) feed.Publish(new RowsWritten(run, rows));
        if (evals.Count > 0) feed.Publish(new EvalWritten(run, evals));
        lastError = null;
        try
        {
            h.Board?.Write(rows);
            h.Board?.WriteEval(evals);
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
