using Microsoft.Data.Sqlite;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Actors;

/// <summary>What a journal failure means for the user: a damaged SQLite file (rebuilt by <c>minimind run repair</c>)
/// or a journal that could not be reached. Decided from the provider's error code, not from the message.</summary>
public static class JournalFault
{
    /// <summary>SQLite's own verdict on its file: SQLITE_CORRUPT (11) or SQLITE_NOTADB (26) mean a damaged journal;
    /// anything else, and any other provider, one that could not be reached.</summary>
    public static FailureKind Classify(Exception cause) =>
        Root(cause) is SqliteException { SqliteErrorCode: 11 or 26 } ? FailureKind.JournalDamaged : FailureKind.JournalUnavailable;

    public static Exception Root(Exception e) => e.InnerException is null ? e : Root(e.InnerException);
}
