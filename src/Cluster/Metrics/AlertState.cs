using System.Collections.Immutable;
using System.Globalization;

namespace MiniMind.Cluster.Metrics;

/// <summary>What the alerts watch for (issue 14, item 5), and how hard. <paramref name="SpikeFactor"/>: a step's loss above
/// this many times the loss's EMA is a spike (0: off); checked once <paramref name="SpikeWarmup"/> steps have fed the EMA
/// (weight <paramref name="EmaWeight"/> on the past, bias-corrected). <paramref name="StallFactor"/>: no step for this many
/// times the median of the last <see cref="StallWindow"/> step times is a stall (0: off), and never before
/// <paramref name="StallFloor"/> (a checkpoint write or a slow first step is no stall). An alert stays active while its
/// condition holds and at least <paramref name="Hold"/> after it was raised (a scrape or a look at the dashboard sees it).</summary>
public sealed record AlertRules(double SpikeFactor, int SpikeWarmup, double EmaWeight, double StallFactor, TimeSpan StallFloor, TimeSpan Hold)
{
    public const int StallWindow = 101;
    public static AlertRules Default { get; } = new(3.0, 20, 0.9, 10.0, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(5));
}

/// <summary>The kinds of alert, as the log, the dashboard and the <c>/metrics</c> label name them.</summary>
public enum AlertKind { LossSpike, NonFinite, Stalled, WorkerRestart }

/// <summary>One alert of run <paramref name="Run"/> (a history's persistence id), raised at <paramref name="Step"/>.</summary>
public sealed record Alert(string Run, AlertKind Kind, long Step, string Text, DateTimeOffset At)
{
    public static string Label(AlertKind kind) => kind switch
    {
        AlertKind.LossSpike => "loss_spike",
        AlertKind.NonFinite => "non_finite",
        AlertKind.Stalled => "stalled",
        _ => "worker_restart",
    };

    /// <summary>The log line: <c>alert: &lt;kind&gt; in &lt;run&gt; at step N: …</c>.</summary>
    public string LogLine => $"alert: {Label(Kind)} in {Run} at step {Step}: {Text}";
}

/// <summary>What the alerts know of one run: the loss EMA (raw, bias-corrected by <paramref name="Steps"/>), its newest
/// step and when it came, the recent step times, and whether it is still running (only a live run can stall).</summary>
public sealed record RunWatch(double Ema, long Steps, long LastStep, DateTimeOffset LastAt, ImmutableQueue<double> Recent, int RecentCount, bool Live)
{
    public static RunWatch Start(DateTimeOffset now) => new(0, 0, 0, now, [], 0, true);

    public double? SmoothedLoss(double weight) => Steps == 0 ? null : Ema / (1 - Math.Pow(weight, Steps));

    public double? MedianStepSeconds()
    {
        if (RecentCount < 3) return null;
        var sorted = Recent.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}

/// <summary>
/// The alert rules as a state record changed by pure functions (fed by the metrics recorder: every committed step, a
/// step that diverged, a worker restart, a clock tick). Each returns the new state and the alerts raised by that input
/// (each becomes one log line); <see cref="Active"/> is what the dashboard and the <c>/metrics</c> gauges show,
/// <see cref="Counts"/> how often each kind was raised.
/// </summary>
public sealed record AlertState(ImmutableDictionary<string, RunWatch> Runs, ImmutableDictionary<(string Run, AlertKind Kind), Alert> Active,
    ImmutableDictionary<(string Run, AlertKind Kind), long> Counts)
{
    public static AlertState Empty { get; } = new(ImmutableDictionary<string, RunWatch>.Empty,
        ImmutableDictionary<(string, AlertKind), Alert>.Empty, ImmutableDictionary<(string, AlertKind), long>.Empty);

    static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);

    AlertState Raise(Alert a, List<Alert> raised)
    {
        raised.Add(a);
        return this with { Active = Active.SetItem((a.Run, a.Kind), a), Counts = Counts.SetItem((a.Run, a.Kind), Counts.GetValueOrDefault((a.Run, a.Kind)) + 1) };
    }

    /// <summary>Clears <paramref name="kind"/> of <paramref name="run"/> once it has been shown for <see cref="AlertRules.Hold"/>.</summary>
    AlertState Clear(string run, AlertKind kind, DateTimeOffset now, AlertRules rules) =>
        Active.TryGetValue((run, kind), out var a) && now - a.At >= rules.Hold ? this with { Active = Active.Remove((run, kind)) } : this;

    /// <summary>A run (re)started: its watch starts over (a resumed run warms its EMA up again).</summary>
    public AlertState Began(string run, DateTimeOffset now) => this with { Runs = Runs.SetItem(run, RunWatch.Start(now)) };

    /// <summary>A run ended: it can no longer stall.</summary>
    public AlertState Ended(string run) =>
        Runs.TryGetValue(run, out var w) ? this with { Runs = Runs.SetItem(run, w with { Live = false }), Active = Active.Remove((run, AlertKind.Stalled)) } : this;

    /// <summary>A committed step: a non-finite loss or grad norm, or a loss above k·EMA, raises an alert; a stall clears
    /// (once held); the EMA and the step-time window take it in.</summary>
    public (AlertState State, IReadOnlyList<Alert> Raised) Step(string run, long step, double loss, double gradNorm, double stepSeconds,
        DateTimeOffset now, AlertRules rules)
    {
        var raised = new List<Alert>();
        var w = Runs.GetValueOrDefault(run) ?? RunWatch.Start(now);
        var s = Clear(run, AlertKind.Stalled, now, rules);
        if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
        {
            s = s.Raise(new Alert(run, AlertKind.NonFinite, step, $"loss {loss}, grad norm {gradNorm}", now), raised);
        }
        else
        {
            var smoothed = w.SmoothedLoss(rules.EmaWeight);
            var spike = rules.SpikeFactor > 0 && w.Steps >= rules.SpikeWarmup && smoothed is { } ema && loss > rules.SpikeFactor * ema;
            if (spike && !s.Active.ContainsKey((run, AlertKind.LossSpike)))
                s = s.Raise(new Alert(run, AlertKind.LossSpike, step, $"loss {F(loss)} > {F(rules.SpikeFactor)}×EMA {F(smoothed!.Value)}", now), raised);
            else if (!spike) s = s.Clear(run, AlertKind.LossSpike, now, rules);
            w = w with { Ema = rules.EmaWeight * w.Ema + (1 - rules.EmaWeight) * loss, Steps = w.Steps + 1 };
        }
        var recent = w.Recent.Enqueue(stepSeconds);
        var count = w.RecentCount + 1;
        if (count > AlertRules.StallWindow) (recent, count) = (recent.Dequeue(), count - 1);
        w = w with { LastStep = step, LastAt = now, Recent = recent, RecentCount = count, Live = true };
        return (s with { Runs = s.Runs.SetItem(run, w) }, raised);
    }

    /// <summary>A step's loss or gradient norm was not finite: the coordinator kept nothing of it and failed the run.</summary>
    public (AlertState State, IReadOnlyList<Alert> Raised) Diverged(string run, long step, string what, DateTimeOffset now)
    {
        var raised = new List<Alert>();
        return (Raise(new Alert(run, AlertKind.NonFinite, step, what, now), raised), raised);
    }

    /// <summary>A worker failed and restarts (its parent reloads the newest checkpoint).</summary>
    public (AlertState State, IReadOnlyList<Alert> Raised) WorkerRestarted(string run, string reason, DateTimeOffset now)
    {
        var raised = new List<Alert>();
        var step = Runs.GetValueOrDefault(run)?.LastStep ?? 0;
        return (Raise(new Alert(run, AlertKind.WorkerRestart, step, reason, now), raised), raised);
    }

    /// <summary>The clock: a live run with no step for M× its median step time (and at least the floor) stalls; alerts
    /// whose condition is gone clear once held long enough.</summary>
    public (AlertState State, IReadOnlyList<Alert> Raised) Tick(DateTimeOffset now, AlertRules rules)
    {
        var raised = new List<Alert>();
        var s = this;
        foreach (var (run, w) in Runs)
        {
            s = s.Clear(run, AlertKind.WorkerRestart, now, rules).Clear(run, AlertKind.NonFinite, now, rules);
            if (!w.Live || rules.StallFactor <= 0 || w.MedianStepSeconds() is not { } median || s.Active.ContainsKey((run, AlertKind.Stalled))) continue;
            var limit = TimeSpan.FromSeconds(Math.Max(rules.StallFloor.TotalSeconds, rules.StallFactor * median));
            var quiet = now - w.LastAt;
            if (quiet > limit)
                s = s.Raise(new Alert(run, AlertKind.Stalled, w.LastStep,
                    $"no step for {Format.Duration(quiet.TotalSeconds)} after step {w.LastStep} (median step {F(median)} s; limit {Format.Duration(limit.TotalSeconds)})", now), raised);
        }
        return (s, raised);
    }
}
