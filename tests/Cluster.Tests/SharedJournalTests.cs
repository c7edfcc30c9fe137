using Akka.Hosting;
using MiniMind.Actors;
using Xunit;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cluster.Tests;

/// <summary>Runs are identified by run (stage + run dir), not by stage: any number of runs share one journal, one after
/// the other and side by side, on SQLite and on PostgreSQL (issue 11).</summary>
[Collection(PostgresCollection.Name)]
public class SharedJournalTests(PostgresFixture postgres)
{
    [Fact]
    public Task Runs_in_other_run_dirs_train_after_a_completed_run_in_one_sqlite_journal() =>
        InSequence(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("shared-sqlite"), "j.db"), "."));

    [Fact]
    public Task Runs_in_other_run_dirs_train_after_a_completed_run_in_one_postgres_journal() =>
        InSequence(JournalSpec.Parse("postgres:" + postgres.ConnectionString(), "."));

    [Fact]
    public Task Two_runs_train_side_by_side_in_one_sqlite_journal() =>
        SideBySide(JournalSpec.Parse("sqlite:" + Path.Combine(TestRuns.TempRunDir("shared-sqlite"), "j.db"), "."));

    [Fact]
    public Task Two_runs_train_side_by_side_in_one_postgres_journal() =>
        SideBySide(JournalSpec.Parse("postgres:" + postgres.ConnectionString(), "."));

    /// <summary>A node's run list is every run its run manager journaled, not only those since it started.</summary>
    [Fact]
    public async Task A_restarted_node_lists_the_runs_it_journaled_before()
    {
        var dir = TestRuns.TempRunDir("run-list");
        var settings = TestRuns.Tiny(dir, steps: 2);
        var journal = JournalSpec.Parse("sqlite", dir);
        var first = await TestRuns.RunAsync(settings, journal);
        Assert.Equal(Outcome.Completed, first.Finished.Outcome);

        await using var node = await Nodes.NodeHost.StartAsync(Nodes.NodeOptions.ForTraining(settings, journal, "127.0.0.1:0"));
        using var http = new HttpClient { BaseAddress = new Uri(node.ControlUrl!), Timeout = TimeSpan.FromMinutes(1) };
        using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("/api/runs", TestContext.Current.CancellationToken));
        var run = Assert.Single(doc.RootElement.GetProperty("runs").EnumerateArray());
        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.Equal(2, run.GetProperty("step").GetInt64());
        Assert.Equal(dir, run.GetProperty("runDir").GetString());
    }

    /// <summary>A run dir journaled by an older minimind (persistence id = the stage only) resumes, rather than starting
    /// over: `train` copies its events under the run's id once.</summary>
    [Fact]
    public async Task A_run_dir_journaled_under_the_old_stage_only_id_is_adopted_and_recovers_as_completed()
    {
        var dir = TestRuns.TempRunDir("legacy");
        var settings = TestRuns.Tiny(dir, steps: 2);
        var journal = JournalSpec.Parse("sqlite", dir);
        var finished = new TaskCompletionSource<TrainingFinished>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka("legacy", (akka, _) => akka
            .WithTrainingPersistence(journal).WithTrainingSerialization().WithWorkerDispatcher()
            .WithActors((system, _) =>
            {
                var listener = system.ActorOf(Akka.Actor.Props.Create(() => new FinishedListener(finished)));
                system.ActorOf(TrainingCoordinator.Props(RunIdentity.LegacyCoordinatorPersistenceId(settings), settings, Nodes.NodeHosting.OpenDataset, listener));
            }));
        using (var legacy = builder.Build())
        {
            await legacy.StartAsync(TestContext.Current.CancellationToken);
            Assert.Equal(Outcome.Completed, (await finished.Task.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken)).Outcome);
            await legacy.StopAsync(TestContext.Current.CancellationToken);
        }

        await using var node = await Nodes.NodeHost.StartAsync(Nodes.NodeOptions.ForTraining(settings, journal));
        Assert.True(await node.AdoptLegacyJournalAsync(settings, TimeSpan.FromMinutes(1)) > 0);
        Assert.Equal(0, await node.AdoptLegacyJournalAsync(settings, TimeSpan.FromMinutes(1)));   // once
        var run = await node.TrainAsync(settings, _ => { });
        Assert.Equal(Outcome.AlreadyCompleted, (await run.Finished.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken)).Outcome);
    }

    sealed class FinishedListener : Akka.Actor.ReceiveActor
    {
        public FinishedListener(TaskCompletionSource<TrainingFinished> finished)
        {
            Receive<TrainingFinished>(f => finished.TrySetResult(f));
            ReceiveAny(_ => { });
        }
    }

    [Fact]
    public void Persistence_ids_differ_by_run_dir_and_stage_and_not_by_journal()
    {
        var a = TestRuns.Tiny("/tmp/runs/a");
        Assert.NotEqual(RunIdentity.CoordinatorPersistenceId(a), RunIdentity.CoordinatorPersistenceId(a with { RunDir = "/tmp/runs/b" }));
        Assert.NotEqual(RunIdentity.CoordinatorPersistenceId(a), RunIdentity.CoordinatorPersistenceId(a with { Stage = "sft" }));
        Assert.Equal(RunIdentity.CoordinatorPersistenceId(a), RunIdentity.CoordinatorPersistenceId(a with { RunDir = "/tmp/runs/a/", LearningRate = 1e-3 }));
        Assert.NotEqual(RunIdentity.LocalRunManagerPersistenceId("/tmp/runs/a"), RunIdentity.LocalRunManagerPersistenceId("/tmp/runs/b"));
    }

    /// <summary>A completed run, then a second run in another dir with another learning rate, then a third: the later runs
    /// train (no "already completed"), each writes its own model, and the first run still recovers as completed.</summary>
    static async Task InSequence(JournalSpec journal)
    {
        var a = TestRuns.TempRunDir("shared-a");
        var b = TestRuns.TempRunDir("shared-b");
        var first = await TestRuns.RunAsync(TestRuns.Tiny(a, steps: 4), journal);
        Assert.Equal(Outcome.Completed, first.Finished.Outcome);

        var second = await TestRuns.RunAsync(TestRuns.Tiny(b, steps: 4) with { LearningRate = 4e-4 }, journal);
        Assert.Equal(Outcome.Completed, second.Finished.Outcome);
        Assert.Contains(second.Reports, r => r is TrainingBegan { Resumed: false, FromStep: 0 });
        Assert.StartsWith(b, second.Finished.OutputFile);
        Assert.True(File.Exists(second.Finished.OutputFile));
        Assert.NotEqual(File.ReadAllBytes(first.Finished.OutputFile!), File.ReadAllBytes(second.Finished.OutputFile!));

        var again = await TestRuns.RunAsync(TestRuns.Tiny(a, steps: 4), journal);
        Assert.Equal(Outcome.AlreadyCompleted, again.Finished.Outcome);
        Assert.Equal(first.State.OutputSha256, again.State.OutputSha256);
    }

    /// <summary>Two runs at once in one journal (a checkpoint every step: many concurrent writes): both train to the end
    /// (concurrent writers wait for each other instead of failing) and each recovers as its own run.</summary>
    static async Task SideBySide(JournalSpec journal)
    {
        var a = TestRuns.TempRunDir("side-a");
        var b = TestRuns.TempRunDir("side-b");
        var runs = await Task.WhenAll(
            TestRuns.RunAsync(TestRuns.Tiny(a, steps: 6, saveInterval: 1), journal, timeout: TimeSpan.FromMinutes(4)),
            TestRuns.RunAsync(TestRuns.Tiny(b, steps: 6, saveInterval: 1) with { LearningRate = 4e-4 }, journal, timeout: TimeSpan.FromMinutes(4)));
        Assert.All(runs, r => Assert.Equal(Outcome.Completed, r.Finished.Outcome));
        Assert.All(runs, r => Assert.Equal(6, r.State.CommittedStep));

        Assert.All(runs, r => Assert.True(File.Exists(r.Finished.OutputFile)));
        Assert.NotEqual(runs[0].Finished.OutputFile, runs[1].Finished.OutputFile);

        // each run recovers as its own: completed, with its own output's hash
        var againB = await TestRuns.RunAsync(TestRuns.Tiny(b, steps: 6, saveInterval: 1) with { LearningRate = 4e-4 }, journal);
        Assert.Equal(Outcome.AlreadyCompleted, againB.Finished.Outcome);
        Assert.Equal(runs[1].State.OutputSha256, againB.State.OutputSha256);
    }
}
