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
        (int)Scalar(runDir, CheckpointsSql, ("$manifest", TrainingSerializer.ManifestOf<CheckpointSaved>()));

    /// <summary>The newest step in the per-step metrics table.</summary>
    public static long NewestRecordedStep(string runDir) => Scalar(runDir, NewestStepSql);

    const string CheckpointsSql = "SELECT count(*) FROM journal WHERE manifest = $manifest";
    static readonly string NewestStepSql = $"SELECT coalesce(max(step), 0) FROM {Cluster.Metrics.MetricsStore.Table}";

    /// <summary>(journaled checkpoints, newest recorded step) once the writer was SIGKILLed. A read-only connection
    /// cannot roll back the hot journal the kill may leave (it fails, which the polling readers count as 0), so this
    /// one opens the file writable, as the resuming run will, and retries until the read succeeds.</summary>
    public static async Task<(int Checkpoints, long NewestStep)> AfterKill(string runDir)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return ((int)Read(runDir, false, CheckpointsSql, ("$manifest", TrainingSerializer.ManifestOf<CheckpointSaved>())),
                    Read(runDir, false, NewestStepSql));
            }
            catch (SqliteException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    static long Scalar(string runDir, string sql, params (string Name, object Value)[] parameters)
    {
        try
        {
            return Read(runDir, true, sql, parameters);
        }
        catch (SqliteException)
        {
            return 0;   // not created yet, or locked for a moment
        }
    }

    static long Read(string runDir, bool readOnly, string sql, params (string Name, object Value)[] parameters)
    {
        var db = Path.Combine(runDir, "journal.db");
        if (!File.Exists(db)) return 0;
        using var c = new SqliteConnection($"Data Source={db};Mode={(readOnly ? "ReadOnly" : "ReadWrite")};Default Timeout=5;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}
