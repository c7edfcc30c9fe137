using MiniMind.Actors;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Control;

/// <summary>One point of a run's curves: what a <see cref="TrainingProgress"/> report says, with the run's rates as of
/// that report (<see cref="RunRates"/>, computed once by the run manager; 0 while unknown).</summary>
public sealed record MetricPoint(long Step, double Loss, double Lr, double TokensPerSecond, double GradNorm, DateTimeOffset At,
    double LossTokensPerSecond = 0);

/// <summary>A run as the control endpoint lists it.</summary>
public sealed record RunSummary(string Id, string Stage, string RunDir, string Status, long Step, long TotalSteps,
                                DateTimeOffset Started, MetricPoint? Last, string? Message, RlMetrics? Rl = null);

/// <summary>A line of the node's training log, numbered so <c>log tail</c> can ask for what came after.</summary>
public sealed record LogLine(long Seq, DateTimeOffset At, string Run, string Text);

/// <summary>
/// The metrics sink of a node: fed by the coordinators' listener reports (<see cref="TrainingBegan"/>,
/// <see cref="TrainingProgress"/>, <see cref="TrainingNotice"/>, <see cref="TrainingFinished"/>), it keeps per run the
/// latest values (for /metrics) and a bounded curve history (for the dashboard), and a bounded log. Thread-safe.
/// A 122-hour run logs millions of steps: when a run's history reaches <see cref="MaxPoints"/>, every other point is
/// dropped and only every 2ⁿ-th report is kept from then on, so the whole run stays drawable in bounded memory.
/// </summary>
public sealed class TrainingMonitor(int maxPoints = 4096, int maxLogLines = 2000)
{
    sealed class Run(string id, string stage, string runDir, DateTimeOffset started)
    {
        public readonly string Id = id, Stage = stage, RunDir = runDir;
        public readonly DateTimeOffset Started = started;
        public string Status = "starting";
        public string? Message;
        public long Step, TotalSteps;
        public readonly List<MetricPoint> Points = [];
        public int Stride = 1;
        public long Seen;
        public MetricPoint? Last;
        public RlMetrics? Rl;
        public long TokensTotal;
    }

    readonly object gate = new();
    readonly Dictionary<string, Run> runs = [];
    readonly LinkedList<LogLine> log = new();
    long logSeq;

    public int MaxPoints { get; } = Math.Max(16, maxPoints);

    /// <summary>Registers a run (before its first report).</summary>
    public void Begin(string runId, string stage, string runDir)
    {
        lock (gate)
        {
            runs[runId] = new Run(runId, stage, runDir, DateTimeOffset.UtcNow);
            Append(runId, $"run {runId}: {stage} in {runDir}");
        }
    }

    /// <summary>A listener report of <paramref name="runId"/> with the run's rates as of it; anything else is ignored.</summary>
    public void Record(string runId, object report, RunRates? rates = null)
    {
        lock (gate)
        {
            if (!runs.TryGetValue(runId, out var run)) return;
            switch (report)
            {
                case TrainingBegan b:
                    run.Status = "running";
                    run.Step = b.FromStep;
                    run.TotalSteps = b.TotalSteps;
                    Append(runId, b.Resumed ? $"resumed from {b.Checkpoint} at step {b.FromStep}/{b.TotalSteps}"
                                            : $"started: {b.SampleCount} samples, {b.TotalSteps} steps, {b.ParameterCount / 1e6:0.###}M parameters");
                    break;
                case TrainingProgress p:
                    var tps = rates?.TokensPerSecond ?? 0;
                    var point = new MetricPoint(p.Step, p.Loss, p.Lr, tps, p.GradNorm, DateTimeOffset.UtcNow, rates?.LossTokensPerSecond ?? 0);
                    if (run.Status == "starting") run.Status = "running";
                    run.Step = p.Step;
                    run.TotalSteps = p.TotalSteps;
                    run.Last = point;
                    run.TokensTotal += p.StepTokens;
                    AddPoint(run, point);
                    Append(runId, FormattableString.Invariant(
                        $"step {p.Step}/{p.TotalSteps} | epoch {p.Epoch + 1} | loss {p.Loss:0.0000} | lr {p.Lr:0.000e+00} | grad norm {p.GradNorm:0.000} | {tps:0} tok/s{(p.Rl is { } rl ? " | " + rl.Describe() : "")}"));
                    if (p.Rl is not null) run.Rl = p.Rl;
                    break;
                case TrainingNotice n:
                    Append(runId, n.Text);
                    break;
                case TrainingFinished f:
                    run.Status = f.Outcome switch
                    {
                        Outcome.Completed or Outcome.AlreadyCompleted => "completed",
                        Outcome.Stopped => "stopped",
                        _ => "failed",
                    };
                    run.Step = f.Step;
                    run.Message = f.Message;
                    Append(runId, f.Message);
                    break;
            }
        }
    }

    /// <summary>Overrides a run's status (paused/running) after a control command.</summary>
    public void SetStatus(string runId, string status)
    {
        lock (gate)
        {
            if (!runs.TryGetValue(runId, out var run) || run.Status is "completed" or "stopped" or "failed") return;
            run.Status = status;
            Append(runId, $"run {runId}: {status}");
        }
    }

    /// <summary>A line for the log that is not a training report (control actions, cluster events).</summary>
    public void Note(string runId, string text)
    {
        lock (gate) Append(runId, text);
    }

    void AddPoint(Run run, MetricPoint point)
    {
        if (run.Seen++ % run.Stride != 0) return;
        run.Points.Add(point);
        Compact(run);
    }

    void Append(string runId, string text)
    {
        log.AddLast(new LogLine(++logSeq, DateTimeOffset.UtcNow, runId, text));
        while (log.Count > maxLogLines) log.RemoveFirst();
    }

    public IReadOnlyList<RunSummary> Runs()
    {
        lock (gate)
            return runs.Values.OrderBy(r => r.Started)
                .Select(r => new RunSummary(r.Id, r.Stage, r.RunDir, r.Status, r.Step, r.TotalSteps, r.Started, r.Last, r.Message, r.Rl)).ToList();
    }

    /// <summary>The run's status when it has ended (completed, stopped, failed), else null: its coordinator is gone.</summary>
    public string? Ended(string runId)
    {
        lock (gate) return runs.TryGetValue(runId, out var run) && run.Status is "completed" or "stopped" or "failed" ? run.Status : null;
    }

    /// <summary>The curve history of a run (null when unknown).</summary>
    public IReadOnlyList<MetricPoint>? Points(string runId)
    {
        lock (gate)
        {
            if (!runs.TryGetValue(runId, out var run)) return null;
            return run.Points.ToList();
        }
    }

    public long TokensTotal(string runId)
    {
        lock (gate) return runs.TryGetValue(runId, out var run) ? run.TokensTotal : 0;
    }

    /// <summary>Log lines after <paramref name="afterSeq"/>, at most the newest <paramref name="limit"/>.</summary>
    public IReadOnlyList<LogLine> LogAfter(long afterSeq, int limit = 200)
    {
        lock (gate)
        {
            var lines = log.Where(l => l.Seq > afterSeq).ToList();
            return lines.Count > limit ? lines[^limit..] : lines;
        }
    }

    /// <summary>Keeps the history within <see cref="MaxPoints"/>: halve it, and keep every (2·stride)-th report from now on.</summary>
    void Compact(Run run)
    {
        while (run.Points.Count > MaxPoints)
        {
            var kept = new List<MetricPoint>(run.Points.Count / 2 + 1);
            for (var i = 0; i < run.Points.Count; i += 2) kept.Add(run.Points[i]);
            if (kept[^1] != run.Points[^1]) kept.Add(run.Points[^1]);
            run.Points.Clear();
            run.Points.AddRange(kept);
            run.Stride *= 2;
        }
    }
}
