using System.Text.Json;
using Xunit;

namespace MiniMind.Cluster.Tests;

/// <summary>The chaos suite's short version (issue 13, item 6) as CI runs it: `minimind-bench chaos --ci` — three
/// SIGKILLs of `minimind train` (one in the middle of a checkpoint write, one right after the header, one mid-step), a
/// SIGKILL followed by a corrupted newest checkpoint, a SIGKILL followed by a deleted journal. Each case must end with
/// the final checkpoint and pretrain_64.pth bitwise equal to an uninterrupted run, at most (kills + corrupted) ×
/// save-interval steps redone, an exact sample ledger (every step of the epoch committed once in the effective journal
/// history, consecutive cursors, the epoch's last sample reached), and no fault line in any process's output. The long
/// version (`bench chaos`, with the full-disk and cluster cases) is run by hand; see bench/ChaosBench.cs.</summary>
public class ChaosSuiteTests(ITestOutputHelper output)
{
    [Fact]
    public void The_short_chaos_suite_ends_every_case_bitwise_equal_with_an_exact_ledger_and_no_faults()
    {
        Assert.True(File.Exists(RepoPaths.Bench), $"bench not built: {RepoPaths.Bench}");
        Assert.True(File.Exists(RepoPaths.Cli), $"CLI not built: {RepoPaths.Cli}");
        var r = ChildProcess.Run("dotnet", [RepoPaths.Bench, "chaos", "--ci", "--cli", RepoPaths.Cli], TimeSpan.FromMinutes(10), RepoPaths.Root);
        output.WriteLine(r.Out);
        output.WriteLine(r.Error);
        Assert.True(r.ExitCode == 0, $"chaos --ci exited {r.ExitCode}:\n{r.Out}\n{r.Error}");

        using var doc = JsonDocument.Parse(r.LastLine);
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c);
        Assert.Equal(["corrupt-newest", "journal-deleted", "kills"], cases.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, c) in cases)
        {
            Assert.True(c.GetProperty("ok").GetBoolean(), $"{name}: {c.GetProperty("problems")}");
            Assert.Equal(0, c.GetProperty("faults").GetInt32());
        }
        Assert.Equal(3, cases["kills"].GetProperty("kills").GetInt32());
        Assert.Equal(1, cases["corrupt-newest"].GetProperty("corrupted").GetInt32());
    }
}
