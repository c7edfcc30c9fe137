using Xunit;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors.Tests;

public class TrainingStateTests
{
    static TrainingState Started() => TrainingState.Empty.Apply(new RunStarted("pretrain", "{}", 100, 10));

    [Fact]
    public void RunStarted_records_the_settings_and_plan()
    {
        var s = Started();
        Assert.True(s.Started);
        Assert.Equal(10, s.TotalSteps);
        Assert.Equal(100, s.SampleCount);
        Assert.Equal(0, s.CommittedStep);
    }

    [Fact]
    public void StepCommitted_advances_the_step_cursor_and_token_count()
    {
        var s = Started().Apply(new StepCommitted(0, 1, 8, 5.5, 1e-4, 300)).Apply(new StepCommitted(0, 2, 16, 5.0, 1e-4, 200));
        Assert.Equal(2, s.CommittedStep);
        Assert.Equal(16, s.Cursor);
        Assert.Equal(500, s.Tokens);
        Assert.Equal(5.0, s.LastLoss);
    }

    [Fact]
    public void A_redone_step_does_not_count_its_tokens_twice()
    {
        var s = Started().Apply(new StepCommitted(0, 1, 8, 5, 1e-4, 300)).Apply(new StepCommitted(0, 2, 16, 5, 1e-4, 300))
            .Apply(new StepCommitted(0, 2, 16, 5, 1e-4, 300));
        Assert.Equal(600, s.Tokens);
    }

    [Fact]
    public void CheckpointSaved_appends_and_replaces_newer_or_same_step_entries()
    {
        var s = Started().Apply(new CheckpointSaved("a", "h1", 2)).Apply(new CheckpointSaved("b", "h2", 4)).Apply(new CheckpointSaved("b2", "h3", 4));
        Assert.Equal(["a", "b2"], s.Checkpoints.Select(c => c.File));
        Assert.Equal("b2", s.LatestCheckpoint!.File);
    }

    [Fact]
    public void CheckpointDiscarded_removes_it_from_the_usable_list()
    {
        var s = Started().Apply(new CheckpointSaved("a", "h1", 2)).Apply(new CheckpointSaved("b", "h2", 4)).Apply(new CheckpointDiscarded("b", "corrupt"));
        Assert.Equal("a", s.LatestCheckpoint!.File);
    }

    [Fact]
    public void Prunable_lists_all_but_the_newest_K()
    {
        var s = Started();
        for (var i = 1; i <= 5; i++) s = s.Apply(new CheckpointSaved($"c{i}", "h", i));
        Assert.Equal(["c1", "c2"], s.Prunable(3).Select(c => c.File));
        Assert.Empty(s.Prunable(0));
    }

    [Fact]
    public void RunCompleted_marks_the_run_done_with_its_output()
    {
        var s = Started().Apply(new RunCompleted("out.pth", "abc", 10));
        Assert.True(s.Completed);
        Assert.Equal("out.pth", s.OutputFile);
        Assert.Equal(10, s.CommittedStep);
    }

    [Fact]
    public void The_output_resolves_under_the_run_dir_relative_or_from_an_older_absolute_path()
    {
        var runDir = Path.Combine(Path.GetTempPath(), "run-b");
        Assert.Equal(Path.Combine(runDir, "pretrain_64.pth"), Started().Apply(new RunCompleted("pretrain_64.pth", "h", 3)).OutputPath(runDir, "pretrain_64.pth"));
        var lora = Path.Combine("lora", "medical_64.pth");
        Assert.Equal(Path.Combine(runDir, lora), Started().Apply(new RunCompleted(lora, "h", 3)).OutputPath(runDir, lora));
        // An older journal holds the absolute path of wherever the run dir was: only its place under the run dir counts.
        Assert.Equal(Path.Combine(runDir, "pretrain_64.pth"), Started().Apply(new RunCompleted("/elsewhere/run-a/pretrain_64.pth", "h", 3)).OutputPath(runDir, "pretrain_64.pth"));
        Assert.Equal(Path.Combine(runDir, lora), Started().Apply(new RunCompleted("/elsewhere/run-a/lora/medical_64.pth", "h", 3)).OutputPath(runDir, lora));
        Assert.Null(Started().OutputPath(runDir, "pretrain_64.pth"));
    }

    [Fact]
    public void Replaying_the_same_events_gives_the_same_state()
    {
        ITrainingEvent[] events = [new RunStarted("sft", "{}", 10, 3), new StepCommitted(0, 1, 4, 2, 1, 7), new CheckpointSaved("x", "y", 1)];
        var a = events.Aggregate(TrainingState.Empty, (s, e) => s.Apply(e));
        var b = events.Aggregate(TrainingState.Empty, (s, e) => s.Apply(e));
        Assert.Equal(a.CommittedStep, b.CommittedStep);
        Assert.Equal(a.Checkpoints, b.Checkpoints);
    }

    [Fact]
    public void Settings_that_differ_in_identity_from_the_journaled_run_are_named()
    {
        var journaled = new TrainingSettings { LearningRate = 5e-4, Seed = 1 };
        Assert.Null(TrainingState.Empty.DifferencesFrom(journaled));                                   // nothing started yet
        var state = TrainingState.Empty.Apply(new RunStarted("pretrain", journaled.ToJson(), 100, 10));
        Assert.Null(state.DifferencesFrom(journaled));
        Assert.Null(state.DifferencesFrom(journaled with { RunDir = "elsewhere", LogInterval = 3 }));        // paths and logging may differ
        Assert.Equal(["LearningRate"], state.DifferencesFrom(journaled with { LearningRate = 4e-4 }));
    }
}
