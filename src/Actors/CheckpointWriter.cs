using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Checkpoints;

namespace MiniMind.Actors;

/// <summary>Writes checkpoints in the background (the worker only copies state to memory), atomically (temp + rename)
/// with their SHA-256, deletes pruned ones, and loads the newest checkpoint that verifies, falling back to older ones
/// with a warning when the newest is corrupt.</summary>
public sealed class CheckpointWriter : ReceiveActor
{
    public sealed record WriteCheckpoint(int Generation, TrainingCheckpoint Checkpoint);
    public sealed record CheckpointWritten(int Generation, string File, string Sha256, long Step, TimeSpan Elapsed);

    /// <summary>Load the newest usable of <paramref name="Candidates"/> (oldest first, as the journal lists them).</summary>
    public sealed record LoadLatest(int Generation, IReadOnlyList<CheckpointRecord> Candidates);
    /// <summary><paramref name="Checkpoint"/> is null when none was usable; <paramref name="Rejected"/> lists corrupt files with reasons.</summary>
    public sealed record LatestLoaded(int Generation, TrainingCheckpoint? Checkpoint, CheckpointRecord? Record, IReadOnlyList<(string File, string Reason)> Rejected);

    public sealed record DeleteCheckpoints(IReadOnlyList<string> Files);

    readonly string directory;
    readonly TimeSpan midWriteDelay;
    readonly ILoggingAdapter log = Context.GetLogger();

    public CheckpointWriter(string directory, TimeSpan midWriteDelay)
    {
        this.directory = directory;
        this.midWriteDelay = midWriteDelay;
        ReceiveAsync<WriteCheckpoint>(OnWrite);
        Receive<LoadLatest>(OnLoad);
        Receive<DeleteCheckpoints>(d =>
        {
            foreach (var f in d.Files)
            {
                try { File.Delete(Path.Combine(directory, f)); }
                catch (IOException e) { log.Warning("could not delete checkpoint {0}: {1}", f, e.Message); }
            }
        });
    }

    /// <param name="midWriteDelay">test hook: pause half-way through each write (to kill a process mid-write).</param>
    public static Props Props(string directory, TimeSpan midWriteDelay = default) =>
        Akka.Actor.Props.Create(() => new CheckpointWriter(directory, midWriteDelay));

    protected override void PreStart()
    {
        // A kill during a write leaves a temp file; it never became a checkpoint.
        if (Directory.Exists(directory))
            foreach (var tmp in Directory.EnumerateFiles(directory, "*.tmp")) File.Delete(tmp);
    }

    async Task OnWrite(WriteCheckpoint msg)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var bytes = msg.Checkpoint.ToBytes();
        var name = TrainingCheckpoint.FileName(msg.Checkpoint.Step);
        await TrainingCheckpoint.WriteAtomicAsync(Path.Combine(directory, name), bytes, midWriteDelay);
        Sender.Tell(new CheckpointWritten(msg.Generation, name, TrainingCheckpoint.Sha256Hex(bytes), msg.Checkpoint.Step,
            System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    void OnLoad(LoadLatest msg)
    {
        var rejected = new List<(string, string)>();
        foreach (var c in msg.Candidates.Reverse())
        {
            var path = Path.Combine(directory, c.File);
            try
            {
                var bytes = File.ReadAllBytes(path);
                var sha = TrainingCheckpoint.Sha256Hex(bytes);
                if (sha != c.Sha256) throw new InvalidDataException($"{c.File}: SHA-256 {sha[..12]}… differs from the journal's {c.Sha256[..12]}…");
                var ckpt = TrainingCheckpoint.FromBytes(bytes, c.File);
                if (ckpt.Step != c.Step) throw new InvalidDataException($"{c.File}: holds step {ckpt.Step}, the journal says {c.Step}");
                Sender.Tell(new LatestLoaded(msg.Generation, ckpt, c, rejected));
                return;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                log.Warning("checkpoint {0} unusable, falling back to the previous one: {1}", c.File, e.Message);
                rejected.Add((c.File, e.Message));
            }
        }
        Sender.Tell(new LatestLoaded(msg.Generation, null, null, rejected));
    }
}
