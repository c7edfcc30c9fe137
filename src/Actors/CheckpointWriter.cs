using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Checkpoints;

namespace MiniMind.Actors;

/// <summary>Writes checkpoints in the background (the worker only copies state to memory), atomically (temp + rename)
/// with their SHA-256 and the run they belong to (<see cref="CheckpointRun"/>, to rebuild a lost journal), deletes pruned
/// ones, and loads the newest checkpoint that verifies, falling back to older ones with a warning when the newest is corrupt.
/// Before each write it checks the free space on the target filesystem: a checkpoint that does not fit (or a write that
/// runs out of space) is <see cref="CheckpointWriteFailed"/> ("no space left writing …"), the partial file removed; when
/// the next one will not fit it warns. It deletes only checkpoints the journal knows (same SHA-256), and none at all
/// while the checkpoint directory holds newer checkpoints than the journal knows (journal and checkpoints disagree).</summary>
public sealed class CheckpointWriter : ReceiveActor
{
    public sealed record WriteCheckpoint(int Generation, TrainingCheckpoint Checkpoint);
    public sealed record CheckpointWritten(int Generation, string File, string Sha256, long Step, TimeSpan Elapsed);

    /// <summary>Load the newest usable of <paramref name="Candidates"/> (oldest first, as the journal lists them).</summary>
    public sealed record LoadLatest(int Generation, IReadOnlyList<CheckpointRecord> Candidates);
    /// <summary><paramref name="Checkpoint"/> is null when none was usable; <paramref name="Rejected"/> lists corrupt files with reasons.</summary>
    public sealed record LatestLoaded(int Generation, TrainingCheckpoint? Checkpoint, CheckpointRecord? Record, IReadOnlyList<(string File, string Reason)> Rejected);

    public sealed record DeleteCheckpoints(IReadOnlyList<string> Files);

    /// <summary>A checkpoint could not be written (a full disk, no permission); nothing of it is left on disk. The run
    /// cannot go on: it fails with <see cref="TrainingCoordinator.FailureKind.OutputNotWritable"/> (exit 4).</summary>
    public sealed record CheckpointWriteFailed(int Generation, string File, string Message);

    /// <summary>The checkpoint just written fits, the next one (as large) will not: a warning for the run's log.</summary>
    public sealed record CheckpointSpaceLow(string Warning);

    const string NoSpacePrefix = "no space left writing ";
    const string CannotWritePrefix = "cannot write checkpoint ";

    /// <summary>Room kept free beside a checkpoint: the journal writes that follow it must not hit a full disk.</summary>
    public const long JournalReserveBytes = 4L << 20;

    readonly string directory;
    readonly TimeSpan midWriteDelay;
    readonly CheckpointRun? run;
    readonly ILoggingAdapter log = Context.GetLogger();
    /// <summary>The checkpoints the journal vouches for (its candidates at load, and those written since): file → SHA-256.</summary>
    readonly Dictionary<string, string> known = [];
    /// <summary>Checkpoints on disk newer than any the journal knows, not (yet) rewritten by this run: while any is left,
    /// journal and checkpoints disagree and nothing is pruned.</summary>
    readonly HashSet<string> unknown = [];
    bool warnedNextWontFit;

    public CheckpointWriter(string directory, TimeSpan midWriteDelay, CheckpointRun? run)
    {
        this.directory = directory;
        this.midWriteDelay = midWriteDelay;
        this.run = run;
        ReceiveAsync<WriteCheckpoint>(OnWrite);
        Receive<LoadLatest>(OnLoad);
        Receive<DeleteCheckpoints>(OnDelete);
    }

    /// <param name="midWriteDelay">test hook: pause half-way through each write (to kill a process mid-write).</param>
    /// <param name="run">stamped into every checkpoint written (null: none, e.g. while only restoring an output).</param>
    public static Props Props(string directory, TimeSpan midWriteDelay = default, CheckpointRun? run = null) =>
        Akka.Actor.Props.Create(() => new CheckpointWriter(directory, midWriteDelay, run));

    protected override void PreStart()
    {
        // A kill during a write leaves a temp file; it never became a checkpoint.
        if (Directory.Exists(directory))
            foreach (var tmp in Directory.EnumerateFiles(directory, "*.tmp")) File.Delete(tmp);
    }

    async Task OnWrite(WriteCheckpoint msg)
    {
        var sender = Sender;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var checkpoint = run is null || msg.Checkpoint.Run is not null ? msg.Checkpoint : msg.Checkpoint with { Run = run };
        var (parts, sha) = checkpoint.FileParts();   // the sections themselves, no copy of the state
        var name = TrainingCheckpoint.FileName(msg.Checkpoint.Step);
        var path = Path.GetFullPath(Path.Combine(directory, name));
        var needed = checkpoint.ByteSize + JournalReserveBytes;
        try
        {
            Directory.CreateDirectory(directory);
            // An existing file of this name is replaced by the rename: its space comes back only afterwards.
            var free = DiskSpace.Available(directory);
            if (free < needed)
            {
                sender.Tell(new CheckpointWriteFailed(msg.Generation, name, NoSpace(path, needed, free)));
                return;
            }
            await TrainingCheckpoint.WriteAtomicAsync(path, parts, midWriteDelay);
        }
        catch (Exception e) when (DiskSpace.IsFull(e))
        {
            sender.Tell(new CheckpointWriteFailed(msg.Generation, name, NoSpace(path, needed, SafeAvailable())));
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            sender.Tell(new CheckpointWriteFailed(msg.Generation, name, $"{CannotWritePrefix}{path}: {e.Message}"));
            return;
        }
        known[name] = sha;
        unknown.Remove(name);
        sender.Tell(new CheckpointWritten(msg.Generation, name, sha, msg.Checkpoint.Step, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
        // The next checkpoint is as large as this one: say so while the run can still be helped.
        var left = SafeAvailable();
        if (left < needed && !warnedNextWontFit)
        {
            warnedNextWontFit = true;
            sender.Tell(new CheckpointSpaceLow($"warning: the next checkpoint will not fit: it needs {DiskSpace.Mb(needed)} MB, {left / (1 << 20)} MB free " +
                $"on the filesystem of {Path.GetFullPath(directory)}; free space, or the run stops at its next save (exit 4)"));
        }
        else if (left >= needed) warnedNextWontFit = false;
    }

    static string NoSpace(string path, long needed, long free) =>
        $"{NoSpacePrefix}{path}: needs {DiskSpace.Mb(needed)} MB, {free / (1 << 20)} MB free";

    long SafeAvailable()
    {
        try { return DiskSpace.Available(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    void OnDelete(DeleteCheckpoints d)
    {
        if (unknown.Count > 0)
        {
            log.Warning("not pruning {0}: the checkpoint directory {1} holds {2}, which the journal does not know (journal and checkpoints disagree)",
                string.Join(", ", d.Files), directory, string.Join(", ", unknown.Order()));
            return;
        }
        foreach (var f in d.Files)
        {
            var path = Path.Combine(directory, f);
            try
            {
                if (!File.Exists(path)) continue;
                if (!known.TryGetValue(f, out var sha) || TrainingCheckpoint.Sha256HexOfFile(path) != sha)
                {
                    log.Warning("not pruning checkpoint {0}: it is not the file the journal knows", f);
                    continue;
                }
                File.Delete(path);
                known.Remove(f);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Warning("could not delete checkpoint {0}: {1}", f, e.Message); }
        }
    }

    void OnLoad(LoadLatest msg)
    {
        foreach (var c in msg.Candidates) known[c.File] = c.Sha256;
        var newestKnown = msg.Candidates.Count == 0 ? 0 : msg.Candidates.Max(c => c.Step);
        if (Directory.Exists(directory))
        {
            foreach (var file in Directory.EnumerateFiles(directory, "step_*.ckpt").Select(Path.GetFileName).OfType<string>())
                if (TrainingCheckpoint.StepOf(file) is { } step && step > newestKnown && !known.ContainsKey(file) && unknown.Add(file))
                    log.Warning("checkpoint {0} in {1} is newer than any the journal knows (journal and checkpoints disagree): nothing is pruned while it is there", file, directory);
        }
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
