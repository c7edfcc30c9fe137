using MiniMind.Actors;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>"Already completed" trusts only a file whose sha256 the journal vouches for: a missing or damaged output is
/// exported again from the final checkpoint, bit for bit, with a warning.</summary>
public class OutputRestoreTests
{
    [Theory]
    [InlineData("deleted")]
    [InlineData("truncated")]
    [InlineData("overwritten")]
    public async Task A_completed_runs_missing_or_damaged_output_is_restored_bit_for_bit_on_rerun(string damage)
    {
        var dir = TestRuns.TempRunDir($"restore-{damage}");
        var settings = TestRuns.Tiny(dir, 4, 2);
        var first = await TestRuns.RunAsync(settings);
        Assert.True(Outcome.Completed == first.Finished.Outcome, first.Finished.Message);
        var output = Path.Combine(dir, settings.OutputFileName);
        var original = File.ReadAllBytes(output);
        Assert.Equal(settings.OutputFileName, first.State.OutputFile);                 // journaled relative to the run dir

        switch (damage)
        {
            case "deleted": File.Delete(output); break;
            case "truncated": File.WriteAllBytes(output, original[..(original.Length / 2)]); break;
            default: File.WriteAllBytes(output, [.. original.Select(b => (byte)(b ^ 1))]); break;
        }
        var again = await TestRuns.RunAsync(settings);
        Assert.True(Outcome.AlreadyCompleted == again.Finished.Outcome, again.Finished.Message);
        Assert.Equal(original, File.ReadAllBytes(output));
        Assert.Contains(again.Reports.OfType<TrainingNotice>(), n => n.Text.StartsWith("warning: the completed run's output", StringComparison.Ordinal)
            && n.Text.Contains(damage == "deleted" ? "is missing" : "is damaged", StringComparison.Ordinal));

        var third = await TestRuns.RunAsync(settings);                                  // intact now: nothing to restore
        Assert.Equal(Outcome.AlreadyCompleted, third.Finished.Outcome);
        Assert.DoesNotContain(third.Reports.OfType<TrainingNotice>(), n => n.Text.StartsWith("warning:", StringComparison.Ordinal));
        Directory.Delete(dir, true);
    }
}
