using MiniMind.Actors;
using MiniMind.Cluster.Control;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests.Control;

public class TrainingMonitorTests
{
    static TrainingProgress Progress(long step, double loss = 2.0) =>
        new(step, 1_000_000, 0, loss, 1e-4, 0.5, 1000, TimeSpan.FromMilliseconds(500), TimeSpan.Zero);

    [Fact]
    public void Reports_become_the_latest_values_a_curve_and_numbered_log_lines()
    {
        var m = new TrainingMonitor();
        m.Begin("r", "pretrain", "runs/a");
        m.Record("r", new TrainingBegan(false, 0, 10, 100, 1000, null));
        m.Record("r", Progress(1, 3.0));
        m.Record("r", Progress(2, 2.5), new RunRates(2000, 1500, TimeSpan.FromSeconds(9)));
        m.Record("other", Progress(5));                       // unknown run: ignored
        var run = Assert.Single(m.Runs());
        Assert.Equal(("running", 2L, 1_000_000L), (run.Status, run.Step, run.TotalSteps));
        Assert.Equal(2.5, run.Last!.Loss);
        Assert.Equal(2000, run.Last.TokensPerSecond);          // the run manager's rates, as reported
        Assert.Equal(1500, run.Last.LossTokensPerSecond);
        Assert.Equal(0, m.Points("r")![0].TokensPerSecond);   // unknown at the first report
        Assert.Equal([1L, 2L], m.Points("r")!.Select(p => p.Step));
        Assert.Equal(2000, m.TokensTotal("r"));
        m.Record("r", new TrainingFinished(Outcome.Stopped, 2, null, "stopped at step 2"));
        Assert.Equal("stopped", m.Runs()[0].Status);
        m.SetStatus("r", "paused");                           // a finished run stays finished
        Assert.Equal("stopped", m.Runs()[0].Status);
        var log = m.LogAfter(0);
        Assert.Equal(Enumerable.Range(1, log.Count).Select(i => (long)i), log.Select(l => l.Seq));
        Assert.Contains(log, l => l.Text.StartsWith("step 2/1000000 | epoch 1 | loss 2.5000", StringComparison.Ordinal));
        Assert.Equal([log[^1]], m.LogAfter(log[^2].Seq));
        Assert.Equal(2, m.LogAfter(0, limit: 2).Count);
    }

    [Fact]
    public void An_rl_step_s_measurements_reach_the_log_line_and_the_run_summary()
    {
        var m = new TrainingMonitor();
        m.Begin("g", "grpo", "runs/a");
        var rl = new RlMetrics(4, 2.0, 5.0, 40, 0.12, 4, 1.5, 0.25);
        m.Record("g", Progress(1) with { Rl = rl });
        m.Record("g", Progress(2));                            // a step without RL measurements keeps the last ones
        Assert.Equal(rl, Assert.Single(m.Runs()).Rl);
        Assert.Contains(m.LogAfter(0), l => l.Text.EndsWith("| reward 0.500±1.000 | kl 0.0030 | len 10.0 | clip 0.100 | rollout 1.50 s | scoring 0.25 s", StringComparison.Ordinal));
    }

    [Fact]
    public void A_long_run_s_curve_stays_bounded_and_spans_the_whole_run()
    {
        var m = new TrainingMonitor(maxPoints: 64);
        m.Begin("r", "pretrain", "runs/a");
        for (var s = 1; s <= 100_000; s++) m.Record("r", Progress(s));
        var points = m.Points("r")!;
        Assert.InRange(points.Count, 32, 64);
        Assert.Equal(1, points[0].Step);
        Assert.True(points[^1].Step > 100_000 - 100_000 / 32, $"last point at step {points[^1].Step}");
        Assert.True(points.Zip(points.Skip(1)).All(p => p.Item1.Step < p.Item2.Step));
    }

    [Fact]
    public void Health_book_counts_restarts_rates_and_latencies()
    {
        var t0 = DateTimeOffset.UnixEpoch;
        var book = HealthBook.Empty.Created("worker-0");
        Assert.Null(book.Children["worker-0"].LastMessage);
        for (var i = 0; i < 30; i++) book = book.Seen("worker-0", t0.AddSeconds(i * 0.5), completesWork: true);
        book = book.Seen("worker-0", t0.AddSeconds(100));                 // a message that completes nothing
        var w = book.Children["worker-0"];
        Assert.Equal(2.0, w.Rate, 6);                                       // every 0.5 s over the window
        Assert.Equal(HealthBook.RateWindow, w.Recent.Count);
        Assert.Equal(t0.AddSeconds(100), w.LastMessage);
        book = book.Restarted("worker-0").Holds("worker-0", 1234);
        Assert.Equal((1, 0.0, 1234L), (book.Children["worker-0"].Restarts, book.Children["worker-0"].Rate, book.Children["worker-0"].MemoryBytes));
        book = book.JournalWrite(TimeSpan.FromMilliseconds(2)).JournalWrite(TimeSpan.FromMilliseconds(4));
        Assert.Equal((2L, TimeSpan.FromMilliseconds(6), TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(3)),
            (book.Journal.Count, book.Journal.Sum, book.Journal.Max, book.Journal.Mean));
    }

    [Fact]
    public void Prometheus_text_escapes_labels_and_spells_special_numbers()
    {
        var text = new PrometheusText()
            .Family("x_total", "counter", "A help\nline")
            .Sample("x_total", 3, ("run", "a\"b\\c\nd"))
            .Family("x_total", "counter", "again")   // once per family
            .Sample("y", double.NaN).Sample("y", double.PositiveInfinity).Sample("y", 0.1)
            .ToString();
        Assert.Equal("# HELP x_total A help\\nline\n# TYPE x_total counter\nx_total{run=\"a\\\"b\\\\c\\nd\"} 3\ny NaN\ny +Inf\ny 0.1\n", text);
    }
}
