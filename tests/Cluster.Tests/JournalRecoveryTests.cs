using MiniMind.Actors;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

[Collection(PostgresCollection.Name)]
public class JournalRecoveryTests(PostgresFixture postgres)
{
    [Fact]
    public Task Coordinator_recovers_a_completed_run_from_the_sqlite_journal() =>
        RecoversCompletedRun(dir => JournalSpec.Parse("sqlite", dir));

    [Fact]
    public Task Coordinator_recovers_a_completed_run_from_the_postgres_journal() =>
        RecoversCompletedRun(_ => JournalSpec.Parse("postgres:" + postgres.ConnectionString(), "."));

    static async Task RecoversCompletedRun(Func<string, JournalSpec> journalFor)
    {
        var dir = TestRuns.TempRunDir("journal");
        var settings = TestRuns.Tiny(dir, steps: 4, saveInterval: 2);
        var journal = journalFor(dir);

        var first = await TestRuns.RunAsync(settings, journal);
        Assert.Equal(Outcome.Completed, first.Finished.Outcome);
        Assert.True(first.State.Completed);

        var second = await TestRuns.RunAsync(settings, journal);
        Assert.Equal(Outcome.AlreadyCompleted, second.Finished.Outcome);
        Assert.Equal(first.State.CommittedStep, second.State.CommittedStep);
        Assert.Equal(4, second.State.CommittedStep);
        Assert.Equal(first.State.Checkpoints, second.State.Checkpoints);
        Assert.Equal(first.State.OutputSha256, second.State.OutputSha256);
        Assert.Equal(first.State.Tokens, second.State.Tokens);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task An_interrupted_run_resumes_from_the_postgres_journal_with_identical_weights()
    {
        var reference = TestRuns.TempRunDir("pg-ref");
        var resumed = TestRuns.TempRunDir("pg-resumed");
        var journal = JournalSpec.Parse("postgres:" + postgres.ConnectionString(), ".");
        Assert.Equal(Outcome.Completed, (await TestRuns.RunAsync(TestRuns.Tiny(reference, 8, 2), journal)).Finished.Outcome);

        var stopped = await TestRuns.RunAsync(TestRuns.Tiny(resumed, 8, 2), journal, stopWhen: m => m is TrainingProgress { Step: >= 3 });
        Assert.Equal(Outcome.Stopped, stopped.Finished.Outcome);
        var done = await TestRuns.RunAsync(TestRuns.Tiny(resumed, 8, 2), journal);
        Assert.Equal(Outcome.Completed, done.Finished.Outcome);
        Assert.Contains(done.Reports, r => r is TrainingBegan { Resumed: true });
        Assert.Equal(TestRuns.FinalCheckpoint(reference, 8), TestRuns.FinalCheckpoint(resumed, 8));
    }
}
