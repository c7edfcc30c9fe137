using System.Collections.Concurrent;
using MiniMind.Actors;
using MiniMind.Cluster.Nodes;
using MiniMind.Model;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>Tiny, fast, deterministic training runs for the tests (tiny preset, batch 2 × accumulation 2, seq 32).</summary>
static class TestRuns
{
    /// <summary>Forwards to <see cref="RepoPaths.Root"/> (kept for tests written against it; use RepoPaths).</summary>
    public static string Repo => RepoPaths.Root;

    /// <summary>Tiny-preset weights from the read-only fixtures (PyTorch MiniMind's dense_tiny), copied to
    /// <paramref name="path"/>: a previous stage's output without drawing from torch's process-wide RNG, which
    /// workers of tests running in parallel seed and draw from.</summary>
    public static void CopyTinyWeights(string path) => File.Copy(RepoPaths.ModelFixture("dense_tiny", "dense_tiny.pth"), path);

    public static string TempRunDir(string name) => TempDir.Create($"minimind-{name}-");

    public static TrainingSettings Tiny(string runDir, long steps = 8, int saveInterval = 2) => new()
    {
        Stage = "pretrain",
        ConfigJson = MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson(),
        DataPath = RepoPaths.Dataset("pretrain.jsonl"),
        TokenizerPath = RepoPaths.Tokenizer,
        RunDir = runDir,
        BatchSize = 2,
        AccumulationSteps = 2,
        MaxSeqLen = 32,
        MaxSteps = steps,
        SaveInterval = saveInterval,
        LogInterval = 1,
        Deterministic = true,
        Threads = 1,
    };

    public sealed record Result(TrainingFinished Finished, IReadOnlyList<object> Reports, TrainingState State);

    /// <summary>Runs to the end (or to a stop requested by <paramref name="stopWhen"/>) on a node as `minimind train`
    /// hosts it (a cluster of one, no control endpoint) and returns what was reported.</summary>
    public static async Task<Result> RunAsync(TrainingSettings settings, JournalSpec? journal = null, FaultPlan? faults = null,
        Func<object, bool>? stopWhen = null, TimeSpan? timeout = null)
    {
        var reports = new ConcurrentQueue<object>();
        LocalRun? run = null;
        var stopRequested = 0;
        var stopWanted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var node = await NodeHost.StartAsync(NodeOptions.ForTraining(settings, journal ?? JournalSpec.Parse("sqlite", settings.RunDir)) with
        {
            Hooks = new NodeTestHooks { Faults = faults ?? FaultPlan.None },
        });
        run = await node.TrainAsync(settings, r =>
        {
            reports.Enqueue(r.Report);
            if (stopWhen?.Invoke(r.Report) == true && Interlocked.Exchange(ref stopRequested, 1) == 0) stopWanted.TrySetResult();
        });
        _ = stopWanted.Task.ContinueWith(_ => run.Stop(), TaskScheduler.Default);
        var finished = await run.Finished.WaitAsync(timeout ?? TimeSpan.FromMinutes(2));
        var state = finished.Outcome == Outcome.Failed ? TrainingState.Empty : await run.FetchStatusAsync(TimeSpan.FromSeconds(10));
        return new Result(finished, [.. reports], state);
    }

    public static byte[] FinalCheckpoint(string runDir, long step) =>
        File.ReadAllBytes(Path.Combine(runDir, "checkpoints", "pretrain", Actors.Checkpoints.TrainingCheckpoint.FileName(step)));
}
