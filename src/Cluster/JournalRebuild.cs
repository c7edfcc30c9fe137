using MiniMind.Actors;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;

namespace MiniMind.Cluster;

/// <summary>The journal of one run rebuilt from its checkpoints: the events its coordinator recovers from
/// (<see cref="RunStarted"/>, the <see cref="StepCommitted"/> of the newest checkpoint's step, one
/// <see cref="CheckpointSaved"/> per verified checkpoint) under its persistence id.</summary>
public sealed record RebuiltRun(string PersistenceId, TrainingSettings Settings, long Step, string NewestFile, IReadOnlyList<ITrainingEvent> Events);

/// <summary>Rebuilds a lost run journal from the checkpoints, which carry the run (<see cref="CheckpointRun"/>) and the
/// step; the data position and LR follow from the step (<see cref="TrainingPlan"/>), so the run resumes exactly as it
/// would have from the journal.</summary>
public static class JournalRebuild
{
    /// <summary>The rebuilt journal of the run <paramref name="settings"/> describe, from its checkpoint directory; null
    /// when there is no checkpoint (a new run). Checkpoints that cannot rebuild it (an older format without the run, or a
    /// different run) are an <see cref="InvalidDataException"/> naming them: resuming silently from step 0 would overwrite them.</summary>
    public static RebuiltRun? For(TrainingSettings settings, string journalFile)
    {
        var (verified, rejected) = Verified(settings.CheckpointDir);
        if (verified.Count == 0)
        {
            if (rejected.Count == 0) return null;
            throw new InvalidDataException($"the journal {journalFile} is missing or empty and no checkpoint in {settings.CheckpointDir} can rebuild it " +
                $"({string.Join("; ", rejected.Select(r => $"{r.File}: {r.Reason}"))}); move the checkpoints away to start the run over");
        }
        var identity = settings.Identity();
        var other = verified.Where(v => v.Run.IdentityJson != identity).ToList();
        if (other.Count > 0)
        {
            var differs = TrainingSettings.FromJson(other[0].Run.IdentityJson).IdentityDifferences(settings);
            throw new InvalidDataException($"the journal {journalFile} is missing or empty, and the checkpoints in {settings.CheckpointDir} " +
                $"({other[0].File}) belong to a different {settings.Stage} run (differs in: {string.Join(", ", differs)}); use another --run-dir or the same flags");
        }
        return Build(settings, verified);
    }

    /// <summary>The rebuilt journals of every run with checkpoints in <paramref name="runDir"/> (<c>minimind run repair</c>);
    /// <paramref name="skipped"/> names checkpoint directories nothing could be rebuilt from.</summary>
    public static IReadOnlyList<RebuiltRun> ForRunDir(string runDir, out IReadOnlyList<string> skipped)
    {
        var runs = new List<RebuiltRun>();
        var skip = new List<string>();
        var root = Path.Combine(runDir, "checkpoints");
        if (Directory.Exists(root))
        {
            foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
            {
                var (verified, rejected) = Verified(dir);
                if (verified.Count == 0)
                {
                    if (rejected.Count > 0) skip.Add($"{dir}: {string.Join("; ", rejected.Select(r => $"{r.File}: {r.Reason}"))}");
                    continue;
                }
                // the newest checkpoint names the run; older ones of another run (a reused directory) are left out
                var run = verified[^1].Run;
                var settings = run.Settings(runDir);
                runs.Add(Build(settings, verified.Where(v => v.Run.IdentityJson == run.IdentityJson).ToList()));
            }
        }
        skipped = skip;
        return runs;
    }

    sealed record Verified1(string File, string Sha256, long Step, CheckpointRun Run);

    static RebuiltRun Build(TrainingSettings settings, IReadOnlyList<Verified1> verified)
    {
        var newest = verified[^1];
        var run = newest.Run;
        var plan = TrainingPlan.For(run.SampleCount, settings);
        var events = new List<ITrainingEvent> { new RunStarted(settings.Stage, settings.ToJson(), run.SampleCount, run.TotalSteps) };
        var step = newest.Step;
        // the loss and tokens of the steps before are not in the checkpoints (0 here); the next committed step has its own
        if (step > 0) events.Add(new StepCommitted(plan.EpochOf(step - 1), step, plan.CursorAfter(step - 1), 0, plan.LearningRateAt(step - 1), 0));
        events.AddRange(verified.Select(v => new CheckpointSaved(v.File, v.Sha256, v.Step)));
        return new RebuiltRun(RunIdentity.CoordinatorPersistenceId(settings), settings, step, newest.File, events);
    }

    /// <summary>The checkpoints of <paramref name="dir"/> that verify (SHA-256) and carry their run, oldest first, and
    /// the others with the reason.</summary>
    static (List<Verified1> Verified, List<(string File, string Reason)> Rejected) Verified(string dir)
    {
        var verified = new List<Verified1>();
        var rejected = new List<(string, string)>();
        if (!Directory.Exists(dir)) return (verified, rejected);
        var files = Directory.EnumerateFiles(dir, "step_*.ckpt")
            .Select(f => (Path: f, Step: TrainingCheckpoint.StepOf(f)))
            .Where(f => f.Step is not null).OrderBy(f => f.Step);
        foreach (var (path, _) in files)
        {
            var name = Path.GetFileName(path);
            try
            {
                var bytes = File.ReadAllBytes(path);
                var ckpt = TrainingCheckpoint.FromBytes(bytes, name);
                if (ckpt.Run is null) rejected.Add((name, "written by an older minimind, it does not carry its run"));
                else if (TrainingCheckpoint.StepOf(name) != ckpt.Step) rejected.Add((name, $"holds step {ckpt.Step}"));
                else verified.Add(new Verified1(name, TrainingCheckpoint.Sha256Hex(bytes), ckpt.Step, ckpt.Run));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                rejected.Add((name, e.Message));
            }
        }
        return (verified, rejected);
    }
}
