using MiniMind.Actors;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

public class FaultToleranceTests
{
    [Fact]
    public async Task Worker_fault_restarts_the_worker_and_redoes_the_step_with_identical_weights()
    {
        var reference = TestRuns.TempRunDir("fault-ref");
        var faulty = TestRuns.TempRunDir("fault");
        var a = await TestRuns.RunAsync(TestRuns.Tiny(reference, 8, 2));
        var b = await TestRuns.RunAsync(TestRuns.Tiny(faulty, 8, 2), faults: new FaultPlan(5));

        Assert.Equal(Outcome.Completed, a.Finished.Outcome);
        Assert.Equal(Outcome.Completed, b.Finished.Outcome);
        Assert.Contains(b.Reports, r => r is TrainingNotice n && n.Text.Contains("injected fault at step 5"));
        Assert.Contains(b.Reports, r => r is TrainingNotice n && n.Text.Contains("redoing from step 4"));
        Assert.Equal(TestRuns.FinalCheckpoint(reference, 8), TestRuns.FinalCheckpoint(faulty, 8));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "pretrain_64.pth")), File.ReadAllBytes(Path.Combine(faulty, "pretrain_64.pth")));
        Assert.Equal(a.State.Tokens, b.State.Tokens);
    }

    [Fact]
    public async Task A_worker_that_fails_more_than_3_times_a_minute_stops_the_run_with_a_clear_error()
    {
        var dir = TestRuns.TempRunDir("fault-repeat");
        var r = await TestRuns.RunAsync(TestRuns.Tiny(dir, 8, 2), faults: new FaultPlan(3, 3, 3, 3, 3));
        Assert.Equal(Outcome.Failed, r.Finished.Outcome);
        Assert.Contains("repeated failures", r.Finished.Message);
        Assert.Contains("(last: InjectedFaultException: injected fault at step 3)", r.Finished.Message);   // the cause is named
    }

    [Fact]
    public async Task A_corrupt_newest_checkpoint_falls_back_to_the_previous_one_with_a_warning()
    {
        var reference = TestRuns.TempRunDir("corrupt-ref");
        var dir = TestRuns.TempRunDir("corrupt");
        await TestRuns.RunAsync(TestRuns.Tiny(reference, 8, 2));

        var stopped = await TestRuns.RunAsync(TestRuns.Tiny(dir, 8, 2), stopWhen: m => m is TrainingProgress { Step: >= 5 });
        Assert.Equal(Outcome.Stopped, stopped.Finished.Outcome);
        var newest = stopped.State.LatestCheckpoint!;
        var path = Path.Combine(dir, "checkpoints", "pretrain", newest.File);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        var resumed = await TestRuns.RunAsync(TestRuns.Tiny(dir, 8, 2));
        Assert.Equal(Outcome.Completed, resumed.Finished.Outcome);
        Assert.Contains(resumed.Reports, r => r is TrainingNotice n && n.Text.StartsWith("warning: checkpoint " + newest.File, StringComparison.Ordinal));
        var began = Assert.Single(resumed.Reports.OfType<TrainingBegan>());
        Assert.True(began.Resumed);
        Assert.True(began.FromStep < newest.Step);
        Assert.Equal(TestRuns.FinalCheckpoint(reference, 8), TestRuns.FinalCheckpoint(dir, 8));
    }

    [Fact]
    public async Task An_unreachable_journal_is_a_clear_error_and_changes_nothing()
    {
        var dir = TestRuns.TempRunDir("no-journal");
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var journal = JournalSpec.Parse($"postgres:Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Timeout=2", dir);

        var r = await TestRuns.RunAsync(TestRuns.Tiny(dir, 4, 2), journal, timeout: TimeSpan.FromSeconds(90));

        Assert.Equal(Outcome.Failed, r.Finished.Outcome);
        Assert.Contains("journal", r.Finished.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "checkpoints")) && Directory.EnumerateFiles(Path.Combine(dir, "checkpoints"), "*", SearchOption.AllDirectories).Any());
        Assert.False(File.Exists(Path.Combine(dir, "pretrain_64.pth")));
    }
}
