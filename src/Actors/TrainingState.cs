using System.Collections.Immutable;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors;

/// <summary>A checkpoint the journal vouches for.</summary>
public sealed record CheckpointRecord(string File, string Sha256, long Step);

/// <summary>The coordinator's persistent state: a record changed only by <see cref="Apply"/>, one pure function per event.</summary>
public sealed record TrainingState
{
    public static TrainingState Empty { get; } = new();

    public bool Started { get; init; }
    public string? SettingsJson { get; init; }
    public long SampleCount { get; init; }
    public long TotalSteps { get; init; }
    /// <summary>Optimizer steps committed (the journal may run ahead of the newest checkpoint; those steps are redone).</summary>
    public long CommittedStep { get; init; }
    public int Epoch { get; init; }
    public long Cursor { get; init; }
    public double LastLoss { get; init; } = double.NaN;
    public long Tokens { get; init; }
    /// <summary>Usable checkpoints, oldest first.</summary>
    public ImmutableList<CheckpointRecord> Checkpoints { get; init; } = [];
    public bool Completed { get; init; }
    public string? OutputFile { get; init; }
    public string? OutputSha256 { get; init; }

    public CheckpointRecord? LatestCheckpoint => Checkpoints.IsEmpty ? null : Checkpoints[^1];

    public TrainingState Apply(ITrainingEvent e) => e switch
    {
        RunStarted r => Apply(r),
        StepCommitted s => Apply(s),
        CheckpointSaved c => Apply(c),
        CheckpointDiscarded d => Apply(d),
        RunCompleted c => Apply(c),
        _ => throw new ArgumentException($"unknown event {e.GetType().Name}"),
    };

    public TrainingState Apply(RunStarted e) =>
        this with { Started = true, SettingsJson = e.SettingsJson, SampleCount = e.SampleCount, TotalSteps = e.TotalSteps };

    /// <summary>A redone step (after a resume from an older checkpoint) counts its tokens again only past the old high mark.</summary>
    public TrainingState Apply(StepCommitted e) => this with
    {
        CommittedStep = e.Step, Epoch = e.Epoch, Cursor = e.Cursor, LastLoss = e.Loss,
        Tokens = e.Step > CommittedStep ? Tokens + e.Tokens : Tokens,
    };

    public TrainingState Apply(CheckpointSaved e) => this with
    {
        Checkpoints = Checkpoints.RemoveAll(c => c.Step >= e.Step || c.File == e.File).Add(new CheckpointRecord(e.File, e.Sha256, e.Step)),
    };

    public TrainingState Apply(CheckpointDiscarded e) => this with { Checkpoints = Checkpoints.RemoveAll(c => c.File == e.File) };

    public TrainingState Apply(RunCompleted e) =>
        this with { Completed = true, OutputFile = e.OutputFile, OutputSha256 = e.Sha256, CommittedStep = e.Step };

    /// <summary>Where the completed run's output is: the journal records it relative to the run dir, so a copied or moved
    /// run dir finds its own file. An absolute path (journals from before) keeps only its place under the run dir: the
    /// stage's <paramref name="outputFileName"/> when it ends that way, else its file name.</summary>
    /// <summary>Null when <paramref name="settings"/> continue this run (or none was started), else the identity fields
    /// in which they differ from the journaled run's.</summary>
    public IReadOnlyList<string>? DifferencesFrom(TrainingSettings settings) =>
        Started && SettingsJson is { } json && TrainingSettings.FromJson(json) is var journaled && journaled.Identity() != settings.Identity()
            ? journaled.IdentityDifferences(settings)
            : null;

    public string? OutputPath(string runDir, string outputFileName)
    {
        if (OutputFile is not { } file) return null;
        if (!Path.IsPathRooted(file)) return Path.GetFullPath(Path.Combine(runDir, file));
        var normalized = file.Replace('\\', '/');
        var expected = outputFileName.Replace('\\', '/');
        var relative = normalized.EndsWith("/" + expected, StringComparison.Ordinal) ? outputFileName : Path.GetFileName(file);
        return Path.GetFullPath(Path.Combine(runDir, relative));
    }

    /// <summary>Checkpoints beyond the newest <paramref name="keep"/>, to delete.</summary>
    public IReadOnlyList<CheckpointRecord> Prunable(int keep) =>
        keep <= 0 || Checkpoints.Count <= keep ? [] : Checkpoints.Take(Checkpoints.Count - keep).ToList();
}
