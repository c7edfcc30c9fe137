using MiniMind.Actors;

namespace MiniMind.Cluster;

/// <summary>The journal checks a <c>train</c> (or seed) makes before its actor system starts. A damaged SQLite file is an
/// <see cref="InvalidDataException"/> (exit 3) naming it and the fix (<c>minimind run repair</c>); a missing or empty
/// one, or one that holds nothing of the run while its checkpoints exist, is rebuilt from the checkpoints. PostgreSQL
/// journals are the server's to keep: nothing is checked here.</summary>
public static class JournalPreflight
{
    /// <summary>What <c>train</c> does about its journal: null to go on as it is, else the journal to rebuild first and why.</summary>
    public sealed record Rebuild(RebuiltRun Run, string Why)
    {
        /// <summary>The warning the run prints once the journal is rebuilt.</summary>
        public string Warning(string file) =>
            $"warning: journal {file} {Why}; resuming from checkpoint step {Run.Step} ({Run.NewestFile}); rebuilt the journal";
    }

    public static Rebuild? ForTraining(JournalSpec journal, TrainingSettings settings)
    {
        if (journal.SqliteFile is not { } file) return null;
        var check = SqliteJournalFile.Inspect(file);
        var why = check.State switch
        {
            JournalFileState.Corrupt => throw Damaged(journal, settings.RunDir, check.Problem),
            JournalFileState.Missing => "is missing",
            JournalFileState.Empty => "is empty",
            _ => HoldsRun(file, settings) ? null : "holds nothing of this run",
        };
        if (why is null) return null;
        return JournalRebuild.For(settings, file) is { } run ? new Rebuild(run, why) : null;
    }

    /// <summary>True when the journal holds events of the run; a journal busy with other runs' writes is taken to hold it
    /// (nothing is rebuilt then; the node waits for the lock as usual).</summary>
    static bool HoldsRun(string file, TrainingSettings settings)
    {
        try { return SqliteJournalFile.HasEvents(file, RunIdentity.CoordinatorPersistenceId(settings), RunIdentity.LegacyCoordinatorPersistenceId(settings)); }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (e.SqliteErrorCode is 5 or 6) { return true; }
    }

    /// <summary>A seed's journal: a damaged file fails now, before the node starts.</summary>
    public static void ThrowIfDamaged(JournalSpec journal, string runDirHint)
    {
        if (journal.SqliteFile is { } file && SqliteJournalFile.Inspect(file) is { State: JournalFileState.Corrupt } check)
            throw Damaged(journal, runDirHint, check.Problem);
    }

    /// <summary>The one message for a damaged journal: the file, what is wrong, and the command that rebuilds it.</summary>
    public static InvalidDataException Damaged(JournalSpec journal, string runDir, string? problem) =>
        new($"journal {journal.SqliteFile} is damaged ({problem}); rebuild it from the checkpoints with: {RepairCommand(journal, runDir)}");

    public static string RepairCommand(JournalSpec journal, string runDir)
    {
        var own = Path.GetFullPath(Path.Combine(runDir, "journal.db"));
        var dir = runDir.Contains(' ', StringComparison.Ordinal) ? $"\"{runDir}\"" : runDir;
        return journal.SqliteFile is { } f && f != own ? $"minimind run repair --run-dir {dir} --journal sqlite:{f}" : $"minimind run repair --run-dir {dir}";
    }
}
