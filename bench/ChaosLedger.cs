using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace MiniMind.Bench;

/// <summary>A run's StepCommitted events in journal order (epoch, step, cursor = samples of the epoch consumed).</summary>
sealed record Commit(int Epoch, long Step, long Cursor);

/// <summary>The sample ledger of the chaos suite, read from the run journal (no hook in the trainer): every StepCommitted
/// event ever written, in order, across all restarts (a journal that the suite deletes is read first and its events
/// kept in front). A resume from the checkpoint of step S supersedes the events of steps after S, so the effective history
/// is the log replayed with "a step ≤ the last one truncates back to it".</summary>
static class ChaosLedger
{
    /// <summary>The StepCommitted events of the SQLite journal <paramref name="db"/>, in write order. Read from a copy
    /// (with its -wal): a journal left by a SIGKILL needs a WAL recovery, a write, and the run's files stay untouched.</summary>
    public static List<Commit> Read(string db)
    {
        if (!File.Exists(db)) return [];
        var copy = Directory.CreateTempSubdirectory("minimind-chaos-ledger-").FullName;
        try
        {
            foreach (var suffix in new[] { "", "-wal" })
                if (File.Exists(db + suffix)) File.Copy(db + suffix, Path.Combine(copy, "journal.db" + suffix));
            return ReadCopy(Path.Combine(copy, "journal.db"));
        }
        finally
        {
            Directory.Delete(copy, true);
        }
    }

    static List<Commit> ReadCopy(string db)
    {
        using var c = new SqliteConnection($"Data Source={db};Default Timeout=30;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT message FROM journal WHERE manifest = 'step-committed.v1' ORDER BY ordering";
        var list = new List<Commit>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            using var doc = JsonDocument.Parse((byte[])r[0]);
            long Get(string name) => doc.RootElement.EnumerateObject().First(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)).Value.GetInt64();
            list.Add(new Commit((int)Get("Epoch"), Get("Step"), Get("Cursor")));
        }
        return list;
    }

    /// <summary>Checks that the effective history of <paramref name="log"/> is steps 1..<paramref name="totalSteps"/>, each
    /// once, and that consecutive steps consume consecutive, non-overlapping ranges of the deterministic sample order:
    /// step s takes positions [cursor(s-1), cursor(s)) of its epoch, every step takes <paramref name="samplesPerStep"/>,
    /// and the last step of the run ends at <paramref name="epochSamples"/> (the whole epoch used, each sample once).
    /// Returns the problems found (empty: the ledger is exact).</summary>
    public static List<string> Verify(IReadOnlyList<Commit> log, long totalSteps, long samplesPerStep, long epochSamples)
    {
        var problems = new List<string>();
        var effective = new List<Commit>();
        foreach (var e in log)
        {
            while (effective.Count > 0 && effective[^1].Step >= e.Step) effective.RemoveAt(effective.Count - 1);
            effective.Add(e);
        }
        if (effective.Count != totalSteps) problems.Add($"effective history has {effective.Count} steps, the plan {totalSteps}");
        long expectedCursor = 0;
        for (var i = 0; i < effective.Count; i++)
        {
            var e = effective[i];
            if (e.Step != i + 1) { problems.Add($"step {i + 1} missing (found step {e.Step} at its place)"); break; }
            expectedCursor += samplesPerStep;
            if (e.Epoch != 0 || e.Cursor != expectedCursor)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"step {e.Step}: epoch {e.Epoch} cursor {e.Cursor}, expected epoch 0 cursor {expectedCursor}"));
                break;
            }
        }
        if (effective.Count > 0 && problems.Count == 0 && effective[^1].Cursor != epochSamples)
            problems.Add($"the run ended at sample {effective[^1].Cursor} of {epochSamples}");
        return problems;
    }
}
