using MiniMind.Actors.Checkpoints;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>Pruning deletes only checkpoints the journal knows are superseded, and nothing while the journal and the
/// checkpoint directory disagree: here a stale journal (a copy from earlier in the run) beside newer checkpoints.</summary>
public class CheckpointPruningTests
{
    [Fact]
    public async Task Nothing_is_pruned_while_the_checkpoint_directory_holds_checkpoints_the_journal_does_not_know()
    {
        var dir = TestRuns.TempRunDir("prune-disagree");
        var settings = TestRuns.Tiny(dir, steps: 24, saveInterval: 3) with { KeepCheckpoints = 100 };
        var journal = Path.Combine(dir, "journal.db");

        var early = await TestRuns.RunAsync(settings, stopWhen: m => m is TrainingProgress { Step: >= 4 });
        Assert.True(Outcome.Stopped == early.Finished.Outcome, early.Finished.Message);
        File.Copy(journal, journal + ".stale");
        var done = await TestRuns.RunAsync(settings);
        Assert.True(Outcome.Completed == done.Finished.Outcome, done.Finished.Message);
        var before = Files(dir);
        Assert.Contains(TrainingCheckpoint.FileName(24), before);

        // the journal goes back to its early copy: it knows the first checkpoints, not the newer ones on disk
        File.Copy(journal + ".stale", journal, overwrite: true);
        var stale = await TestRuns.RunAsync(settings with { KeepCheckpoints = 1 }, stopWhen: m => m is TrainingProgress { Step: >= 7 });
        Assert.True(Outcome.Stopped == stale.Finished.Outcome, stale.Finished.Message);
        Assert.True(stale.Finished.Step < 24, $"stopped at {stale.Finished.Step}");
        Assert.Empty(before.Except(Files(dir)));   // every checkpoint is still there
        Directory.Delete(dir, true);
    }

    static List<string> Files(string dir) =>
        Directory.EnumerateFiles(Path.Combine(dir, "checkpoints", "pretrain"), "step_*.ckpt").Select(f => Path.GetFileName(f)!).Order().ToList();
}
