using System.Data.Common;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Cluster.Metrics;
using MiniMind.Model.Evaluation;

namespace MiniMind.Cli;

/// <summary><c>minimind eval --data</c> on a run dir's own output: the perplexity joins the history of the run that wrote
/// those weights (its run dir's SQLite journal), as that run's held-out evaluation at its last step, beside the
/// <c>--eval-data</c> ones (and replacing one of the same step): <c>run metrics</c>, the dashboard.</summary>
public static class EvalHistory
{
    /// <summary>Records <paramref name="result"/> for the newest ended run of <paramref name="runDir"/> whose output is
    /// <paramref name="weights"/>. Returns what to tell the user (with the step), or null when the run dir has no journal
    /// or no run of it wrote these weights (weights from elsewhere, a LoRA adapter on top).</summary>
    public static (string Line, long Step)? Record(string runDir, string weights, PerplexityResult result)
    {
        var spec = JournalSpec.Parse("sqlite", runDir);
        if (spec.SqliteFile is not { } file || !File.Exists(file)) return null;
        try
        {
            var store = new MetricsStore(spec);
            var suffix = "-" + RunIdentity.RunDirHash(runDir);
            var output = Path.GetFullPath(weights);
            var run = store.AllRuns()
                .Where(r => r.Run.EndsWith(suffix, StringComparison.Ordinal) && r.EndedMs is not null && r.NewestStep > 0 && Wrote(r, runDir, output))
                .MaxBy(r => r.BeganMs);
            if (run is null) return null;
            store.Upsert(run.Run, [], [new EvalRow(run.NewestStep, result.MeanNll, result.Perplexity, result.Tokens, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())]);
            return ($"recorded as the held-out evaluation of {run.Name} at step {run.NewestStep} in {spec.Display} (run metrics: eval_loss, eval_ppl)", run.NewestStep);
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
        {
            return ($"note: not recorded in {spec.Display}: {e.Message}", 0);
        }
    }

    /// <summary>Whether run <paramref name="r"/>'s output file (from its settings) is <paramref name="output"/>.</summary>
    static bool Wrote(RecordedRun r, string runDir, string output)
    {
        if (r.Settings.Length == 0) return false;
        try
        {
            return Path.GetFullPath(Path.Combine(runDir, TrainingSettings.FromJson(r.Settings).OutputFileName)) == output;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or ArgumentException)
        {
            return false;
        }
    }
}
