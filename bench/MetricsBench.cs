using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Cluster.Metrics;
using MiniMind.Cluster.Nodes;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// What recording every step costs (issue 14), against the step time:
///   metrics [--preset tiny] [--batch 16] [--seq-len 128] [--steps 40] [--rows 3000] [--threads 1]
/// 1. Step time: a real run as `minimind train` hosts it (recording on) for --steps steps; the median of its own recorded
///    step times after the first five.
/// 2. Recording cost: --rows steps replayed through the same path without the training: the run manager's part (the
///    row: clock, RSS, EventStream publish; timed on this thread) and the <see cref="MetricsRecorder"/> on its own thread
///    (SQLite upsert + rollups in transactions of as many rows as a real run's 2 s flush gathers, and the TensorBoard
///    events), as process CPU time per step. Cost = CPU per step ÷ step time (target ≤ 1 %).
/// </summary>
public static class MetricsBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--preset", "--batch", "--seq-len", "--steps", "--rows", "--threads", "--data", "--tokenizer");
        var preset = a.Get("--preset", "tiny");
        int batch = a.Int("--batch", 16), seqLen = a.Int("--seq-len", 128), steps = a.Int("--steps", 40), rows = a.Int("--rows", 3000), threads = a.Int("--threads", 1);
        if (steps < 10) throw new BenchArgumentException("--steps must be at least 10");
        torch.set_num_threads(threads);
        Console.WriteLine($"cpu: {Measure.CpuSummary()}");
        Console.WriteLine($"preset {preset}: B{batch}×T{seqLen}, {steps} steps, {threads} torch thread(s), load {Measure.LoadAverage():0.00}");

        var runDir = Directory.CreateTempSubdirectory("minimind-bench-metrics-").FullName;
        var settings = new TrainingSettings
        {
            ConfigJson = MiniMindConfig.Load(preset).ToJson(), DataPath = a.Get("--data", "dataset/pretrain.jsonl"),
            TokenizerPath = a.Get("--tokenizer", "dataset/tokenizer/tokenizer.json"), RunDir = runDir, BatchSize = batch, MaxSeqLen = seqLen,
            AccumulationSteps = 1, MaxSteps = steps, SaveInterval = int.MaxValue, LogInterval = 10, Threads = threads, Deterministic = true,
        };
        var journal = JournalSpec.Parse("sqlite", runDir);
        var node = NodeHost.StartAsync(NodeOptions.ForTraining(settings, journal, control: null)).GetAwaiter().GetResult();
        var run = node.TrainAsync(settings, _ => { }).GetAwaiter().GetResult();
        var finished = run.Finished.GetAwaiter().GetResult();
        node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (finished.Outcome != TrainingCoordinator.Outcome.Completed) throw new InvalidOperationException(finished.Message);
        var recorded = new MetricsStore(journal).Read(RunIdentity.CoordinatorPersistenceId(settings)).ToList();
        if (recorded.Count != steps) throw new InvalidOperationException($"expected {steps} recorded steps, found {recorded.Count}");
        var stepMs = Median(recorded.Skip(5).Select(r => r.StepSeconds * 1000));
        Console.WriteLine(FormattableString.Invariant($"step time: median {stepMs:F1} ms over steps 6–{steps} (all {steps} steps recorded)"));

        // A real run flushes every 100 rows or every 2 s, whichever comes first: transactions of this many rows.
        var perFlush = (int)Math.Clamp(Math.Floor(2000 / stepMs), 1, 100);
        var (_, storeOnlyUs, _) = Replay(Path.Combine(runDir, "replay-store"), rows, perFlush, tensorBoard: false);
        var (publishUs, cpuUs, wallMs) = Replay(Path.Combine(runDir, "replay"), rows, perFlush, tensorBoard: true);
        var costPct = cpuUs / 1000 / stepMs * 100;
        Console.WriteLine(FormattableString.Invariant($"recording without TensorBoard (--tensorboard off): {storeOnlyUs:F0} µs CPU per step ({storeOnlyUs / 1000 / stepMs * 100:F3} % of the step time)"));
        Console.WriteLine(FormattableString.Invariant(
            $"recording: {rows} steps replayed in transactions of {perFlush} rows in {wallMs:F0} ms: {cpuUs:F0} µs CPU per step ({publishUs:F1} µs of it on the run manager's thread, the rest on the recorder's own thread)"));
        Console.WriteLine(FormattableString.Invariant($"recording cost: {costPct:F3} % of the step time (target ≤ 1 %)"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "metrics", cpu = Measure.CpuSummary(), preset, batch, seq_len = seqLen, steps, threads, step_ms = Math.Round(stepMs, 2),
            rows, rows_per_flush = perFlush, store_only_cpu_us_per_step = Math.Round(storeOnlyUs, 1), publish_us = Math.Round(publishUs, 2), cpu_us_per_step = Math.Round(cpuUs, 1),
            cost_percent = Math.Round(costPct, 3), load = Measure.LoadAverage(),
        }));
        try { Directory.Delete(runDir, true); } catch (IOException) { }
        return 0;
    }

    /// <summary>Publishes <paramref name="rows"/> rows as the run manager does and waits until the recorder has written them.</summary>
    static (double PublishUs, double CpuUs, double WallMs) Replay(string runDir, int rows, int perFlush, bool tensorBoard)
    {
        Directory.CreateDirectory(runDir);
        var journal = JournalSpec.Parse("sqlite", runDir);
        using var system = ActorSystem.Create("metrics-bench", "akka.loglevel = WARNING\n" + $"{MetricsRecorder.DispatcherId} {{ type = PinnedDispatcher }}");
        var recorder = system.ActorOf(MetricsRecorder.PropsFor(system, new MetricsStore(journal), new MetricsRecorder.Settings(perFlush, TimeSpan.FromSeconds(2))));
        recorder.Ask<MetricsRecorder.Flushed>(new MetricsRecorder.FlushMetrics("ready"), TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();   // subscribed
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var publishing = TimeSpan.Zero;
        var mark = Stopwatch.GetElapsedTime(0);
        for (var step = 1; step <= rows; step++)
        {
            var t0 = Stopwatch.GetTimestamp();
            var now = Stopwatch.GetElapsedTime(0);
            var seconds = (now - mark).TotalSeconds;
            mark = now;
            var row = new MetricsRow(step, 0, 3.0 + 1.0 / step, 5e-4, 1.25, 1900, 2048 / Math.Max(seconds, 1e-9), 1900 / Math.Max(seconds, 1e-9), seconds,
                seconds, Environment.WorkingSet, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            system.EventStream.Publish(new StepRecorded("minimind-train-bench-0000000000000000", "bench", runDir, tensorBoard, row));
            publishing += Stopwatch.GetElapsedTime(t0);
        }
        var flushed = recorder.Ask<MetricsRecorder.Flushed>(new MetricsRecorder.FlushMetrics("done"), TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        clock.Stop();
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        if (flushed.Rows != rows) throw new InvalidOperationException($"recorder wrote {flushed.Rows} rows, expected {rows}");
        system.Terminate().Wait(TimeSpan.FromSeconds(30));
        return (publishing.TotalMicroseconds / rows, cpu.TotalMicroseconds / rows, clock.Elapsed.TotalMilliseconds);
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count == 0 ? double.NaN : v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}
