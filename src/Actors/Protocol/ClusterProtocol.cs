namespace MiniMind.Actors.Protocol;

// ---- worker node ⇄ run manager / coordinator (issue 5); all bound to TrainingSerializer ----

/// <summary>A worker node announces itself to the run manager (through the singleton proxy; the sender is the node's
/// <see cref="ClusterWorker"/>). Sent every few seconds, so a moved or restarted coordinator learns about it again.</summary>
public sealed record RegisterWorker(string Node, string Device) : IClusterMessage;

/// <summary>Coordinator → worker node: become a replica of run <paramref name="RunId"/> at <paramref name="Step"/>.
/// The model + AdamW + RNG state follow as <paramref name="BlobChunks"/> <see cref="BlobChunk"/>s (a serialized
/// <see cref="Checkpoints.TrainingCheckpoint"/>). <paramref name="Generation"/> tags everything of this incarnation.</summary>
public sealed record JoinRun(string RunId, int Generation, string SettingsJson, long Step, int BlobChunks) : IClusterMessage;

/// <summary>A piece (≤ 4 MB) of a byte blob (the join snapshot).</summary>
public sealed record BlobChunk(int Generation, int Index, int Count, byte[] Data) : IClusterMessage
{
    public static IReadOnlyList<BlobChunk> Split(int generation, byte[] blob, int maxBytes = GradientChunk.MaxBytes)
    {
        var count = Math.Max(1, (blob.Length + maxBytes - 1) / maxBytes);
        return Enumerable.Range(0, count)
            .Select(i => new BlobChunk(generation, i, count, blob.AsSpan(i * maxBytes, Math.Min(maxBytes, blob.Length - i * maxBytes)).ToArray()))
            .ToList();
    }

    public static byte[] Join(IReadOnlyCollection<BlobChunk> chunks)
    {
        var result = new byte[chunks.Sum(c => c.Data.Length)];
        var offset = 0;
        foreach (var c in chunks.OrderBy(c => c.Index))
        {
            c.Data.CopyTo(result, offset);
            offset += c.Data.Length;
        }
        return result;
    }
}

/// <summary>Worker node → coordinator: the replica is initialised at <paramref name="Step"/> and takes work.</summary>
public sealed record ReplicaReady(int Generation, long Step) : IClusterMessage;

/// <summary>Worker node → coordinator: the replica failed (its model is gone); take back its micro-batches and re-join it.</summary>
public sealed record ReplicaLost(int Generation, string Reason) : IClusterMessage;

/// <summary>Coordinator → worker node (sender = the aggregator): compute one micro-batch's gradient of
/// <paramref name="Step"/> once the replica has applied all earlier steps. <paramref name="Group"/> lists every micro-batch
/// the node was given in the same assignment (this one included), so that it can add up whole blocks of
/// <see cref="MicroReduction"/>'s tree locally and send one gradient per block; null = this one alone.</summary>
public sealed record RemoteCompute(int Generation, long Step, int Micro, int MicroCount, DataLoader.MicroBatch Batch, IReadOnlyList<int>? Group = null) : IClusterMessage
{
    public IReadOnlyList<int> GroupOrSelf => Group is { Count: > 0 } g ? g : [Micro];
}

/// <summary>Aggregator → every remote replica: the reduced gradient of <paramref name="Step"/> follows as
/// <see cref="GradientChunk"/>s with <c>Micro = </c><see cref="ReducedMicro"/>; apply it with AdamW at <paramref name="Lr"/>.</summary>
public sealed record ReducedGradient(int Generation, long Step, double Lr, double Loss, long Tokens, int Length) : IClusterMessage
{
    public const int ReducedMicro = -1;
}

// ---- control (HTTP endpoint) ⇄ run manager ----

/// <summary>Start a training stage on the cluster; replies <see cref="RunAccepted"/> or <see cref="RunRejected"/>.</summary>
public sealed record StartRun(string Stage, string SettingsJson) : IClusterMessage;
public sealed record RunAccepted(string RunId) : IClusterMessage;
public sealed record RunRejected(string Reason) : IClusterMessage;

/// <summary>The state of run <paramref name="RunId"/> (null: the newest run); replies <see cref="RunStatusReply"/>.</summary>
public sealed record GetRunStatus(string? RunId) : IClusterMessage;
public sealed record RunStatusReply(RunView? Run, IReadOnlyList<string> Workers, IReadOnlyList<string> Events) : IClusterMessage;

/// <summary>Every run the run manager has journaled, oldest first; replies <see cref="RunList"/>.</summary>
public sealed record ListRuns(string RequestId) : IClusterMessage;
public sealed record RunList(IReadOnlyList<RunView> Runs, IReadOnlyDictionary<string, string> RunDirs) : IClusterMessage;

/// <summary>What <c>GET /api/train/status</c> shows. <paramref name="State"/>: running, completed, failed, stopped.</summary>
public sealed record RunView(string RunId, string Stage, string State, long Step, long Total, double? Loss, double Lr,
    double TokensPerSecond, string? Outcome, string? Message, string? OutputFile, DateTimeOffset StartedAt, int Workers,
    double LossTokensPerSecond = 0, TrainingCoordinator.FailureKind Failure = TrainingCoordinator.FailureKind.None);

// ---- run manager journal ----

/// <summary>A run was requested through the control endpoint (journaled: a restarted seed resumes it).</summary>
public sealed record RunRequested(string RunId, string Stage, string SettingsJson, DateTimeOffset At) : ITrainingEvent;

/// <summary>A run finished (completed, failed or stopped).</summary>
/// <param name="Failure">why a failed run failed (absent in journals written before it was recorded: None)</param>
public sealed record RunEnded(string RunId, string Outcome, string Message, long Step, string? OutputFile,
    TrainingCoordinator.FailureKind Failure = TrainingCoordinator.FailureKind.None) : ITrainingEvent;
