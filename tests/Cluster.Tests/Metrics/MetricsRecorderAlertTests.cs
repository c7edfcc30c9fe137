using Akka.Actor;
using MiniMind.Actors;
using MiniMind.Cluster.Metrics;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests.Metrics;

/// <summary>The metrics recorder feeds the alert rules from what a run manager publishes: its steps, a worker that failed
/// (the coordinator's typed <see cref="WorkerFailed"/> notice) and a step that diverged (the run's failure of kind
/// <see cref="FailureKind.Diverged"/>), never from their wording; the run's start and end go to the run list, and a
/// held-out evaluation goes to the store with the steps.</summary>
public class MetricsRecorderAlertTests
{
    const string RunId = "pretrain-20261204-1";
    const string History = "minimind-train-pretrain-feedtest";

    [Fact]
    public async Task A_worker_restart_and_a_diverged_step_are_alerts_on_the_feed_and_the_run_list_notes_start_and_end()
    {
        var store = new MetricsStore(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("recorder-alerts"), "j.db"), "."));
        var feed = new MetricsFeed(store);
        var updates = new System.Collections.Concurrent.ConcurrentQueue<MetricsUpdate>();
        using var subscription = feed.Subscribe(updates.Enqueue);
        using var system = ActorSystem.Create("recorder-alerts");
        var recorder = system.ActorOf(MetricsRecorder.Props(store, new MetricsRecorder.Settings(1, TimeSpan.FromMilliseconds(50)), feed));
        await recorder.Ask<MetricsRecorder.Flushed>(new MetricsRecorder.FlushMetrics("ready"), TimeSpan.FromSeconds(30));   // subscribed

        var dir = TestRuns.TempRunDir("recorder-alerts-run");
        system.EventStream.Publish(new RunHistoryBegan(RunId, History, "pretrain", "pretrain", dir, """{"LearningRate":0.0005}"""));
        for (var s = 1; s <= 3; s++)
        {
            system.EventStream.Publish(new StepRecorded(History, "pretrain", dir, false, MetricsStoreTests.Row(s, 2)));
            if (s == 2) system.EventStream.Publish(new EvalRecorded(History, "pretrain", dir, false, new EvalRow(2, 1.5, Math.Exp(1.5), 640, 1_000)));
        }
        // Words alone raise nothing: a plain notice that reads like a worker failure, a failure that reads like a divergence.
        system.EventStream.Publish(new RunReported(RunId, new TrainingNotice("warning: worker failed (only words); restart 9"), RunRates.Unknown));
        system.EventStream.Publish(new RunReported(RunId, new TrainingFinished(Outcome.Failed, 3, null,
            "step 4: the loss is NaN (diverged, or the data gave no loss tokens)", FailureKind.Unexpected), RunRates.Unknown));
        // The typed reports do, whatever their text says.
        system.EventStream.Publish(new RunReported(RunId, new WorkerFailed("injected fault at step 3", 1, TimeSpan.Zero), RunRates.Unknown));
        system.EventStream.Publish(new RunReported(RunId, new TrainingFinished(Outcome.Failed, 3, null, "any wording at all", FailureKind.Diverged,
            new Divergence(4, "the loss is NaN")), RunRates.Unknown));
        system.EventStream.Publish(new RunHistoryEnded(History));

        await Poll.Until(() => feed.Alerts.Active.Count == 2 && store.AllRuns().SingleOrDefault()?.EndedMs is not null, TimeSpan.FromSeconds(30), "two alerts and the run's end");
        var restart = feed.Alerts.Active[(History, AlertKind.WorkerRestart)];
        Assert.Equal((3L, "worker failed (injected fault at step 3); restart 1"), (restart.Step, restart.Text));
        var nan = feed.Alerts.Active[(History, AlertKind.NonFinite)];
        Assert.Equal((4L, "the loss is NaN"), (nan.Step, nan.Text));
        Assert.Equal(2, updates.OfType<AlertRaised>().Count());
        Assert.Equal(1, feed.Alerts.Counts[(History, AlertKind.WorkerRestart)]);
        Assert.Equal([1L, 2, 3], updates.OfType<RowsWritten>().SelectMany(r => r.Rows).Select(r => r.Step));
        Assert.Equal([new EvalRow(2, 1.5, Math.Exp(1.5), 640, 1_000)], updates.OfType<EvalWritten>().SelectMany(r => r.Rows));
        Assert.Equal([new EvalRow(2, 1.5, Math.Exp(1.5), 640, 1_000)], store.ReadEval(History));
        var run = Assert.Single(store.AllRuns());
        Assert.Equal((History, "pretrain", dir, """{"LearningRate":0.0005}""", 3L), (run.Run, run.Name, run.RunDir, run.Settings, run.NewestStep));
        Assert.False(feed.Alerts.Runs[History].Live);
    }
}
