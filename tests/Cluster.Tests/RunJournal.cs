using System.Globalization;
using Microsoft.Data.Sqlite;
using MiniMind.Actors.Protocol;

namespace MiniMind.Cluster.Tests;

/// <summary>Reads a run dir's SQLite journal (journal.db) while a run writes it: read-only, unpooled (the tests rename,
/// truncate or delete the file afterwards), and 0 while the file or its tables are not there yet or it is locked.</summary>
static class RunJournal
{
    /// <summary>The CheckpointSaved events. A checkpoint file on disk is not enough to resume from: killed between the
    /// file's rename and the journal write, a run rightly starts over.</summary>
    public static int Checkpoints(string runDir) =>
        (int)Scalar(runDir, "SELECT count(*) FROM journal WHERE manifest = $manifest", ("$manifest", TrainingSerializer.ManifestOf<CheckpointSaved>()));

    /// <summary>The newest step in the per-step metrics table.</summary>
    public static long NewestRecordedStep(string runDir) =>
        Scalar(runDir, $"SELECT coalesce(max(step), 0) FROM {Cluster.Metrics.MetricsStore.Table}");

    static long Scalar(string runDir, string sql, params (string Name, object Value)[] parameters)
    {
        var db = Path.Combine(runDir, "journal.db");
        if (!File.Exists(db)) return 0;
        try
        {
            using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Default Timeout=5;Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
            return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        catch (SqliteException)
        {
            return 0;   // not created yet, or locked for a moment
        }
    }
}
