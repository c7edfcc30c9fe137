using MiniMind.Model.Evaluation;
using Xunit;
using static MiniMind.Actors.CoordinatorEffect;
using static MiniMind.Actors.GpuWorker;
using static MiniMind.Actors.TrainingCoordinator;
using static MiniMind.Actors.Tests.CoordinatorStateTests;

namespace MiniMind.Actors.Tests;

/// <summary>The held-out evaluation's decisions (<c>--eval-data</c>, <c>--eval-interval</c>), pure and as the coordinator's
/// state applies them: which steps are scored, what worker-0 is told and when, what the listener hears.</summary>
public class EvalScheduleTests
{
    static readonly IReadOnlyList<EvalSample> HeldOut = [new(1, [1, 2, 3], [2, 3, 4], [1, 1, 0])];

    static EvalSettings Every(int interval) => new("heldout.jsonl", interval, 1);

    static TrainingSettings Evaluating(int interval) => Settings() with { Eval = Every(interval) };

    [Fact]
    public void An_evaluation_is_due_every_interval_and_after_the_last_step_and_never_without_settings_or_samples()
    {
        var schedule = EvalSchedule.For(Every(4), HeldOut);
        Assert.Equal([4L, 8, 10], Enumerable.Range(1, 10).Select(s => (long)s).Where(s => schedule.Due(s, 10)));
        Assert.Equal([1L, 2, 3], Enumerable.Range(1, 3).Select(s => (long)s).Where(s => EvalSchedule.For(Every(0), HeldOut).Due(s, 3)));   // interval 0 counts as 1
        Assert.Equal(new Evaluate(3, 8, HeldOut), schedule.After(3, 8, 10));
        Assert.Same(HeldOut, schedule.After(3, 8, 10)!.Samples);
        Assert.Null(schedule.After(3, 7, 10));
        Assert.Same(EvalSchedule.None, EvalSchedule.For(null, HeldOut));                   // no --eval-data: none
        Assert.Same(EvalSchedule.None, EvalSchedule.For(Every(4), []));                    // nothing to score: none
        Assert.Same(EvalSchedule.None, EvalSchedule.For(Every(4), null));
        Assert.False(EvalSchedule.None.Due(10, 10));
        Assert.Null(EvalSchedule.None.After(1, 10, 10));
    }

    [Fact]
    public void Scores_become_loss_and_perplexity_unless_their_worker_generation_is_gone()
    {
        var scored = new Evaluated(2, 4, 2.0, 640, 4, TimeSpan.FromMilliseconds(30));
        Assert.Equal(new EvalMeasured(4, 2.0, Math.Exp(2.0), 640, 4, TimeSpan.FromMilliseconds(30)), EvalSchedule.Measured(scored, 2));
        Assert.Null(EvalSchedule.Measured(scored, 3));
    }

    [Fact]
    public void Worker_0_scores_the_held_out_set_every_interval_and_after_the_last_step_before_the_next_steps_work()
    {
        var settings = Evaluating(interval: 4);
        var evaluated = new List<long>();
        var s = Ready(0, settings, heldOut: HeldOut);
        for (var step = 0; step < 10; step++)
        {
            var ready = s.Received(Batches(step)).State;
            var d = ready.StepRan(Ran(ready));
            var toWorker = d.Effects.OfType<Tell>().Where(t => t.To.Equals(Worker)).Select(t => t.Message).ToList();
            if (toWorker.OfType<Evaluate>().SingleOrDefault() is { } e)
            {
                Assert.Equal((d.State.Generation, (long)step + 1), (e.Generation, e.StepsDone));
                Assert.Same(HeldOut, e.Samples);
                Assert.IsType<Evaluate>(toWorker[0]);                                        // before the next step's micro-batches
                evaluated.Add(e.StepsDone);
            }
            s = d.State;
        }
        Assert.Equal([4L, 8, 10], evaluated);                                                // every 4 steps and the last (10)
        Assert.Same(EvalSchedule.None, Ready(0, Settings(), heldOut: HeldOut).Eval);       // no --eval-data: none
        Assert.Same(EvalSchedule.None, Ready(0, settings).Eval);                           // nothing to score: none
    }

    [Fact]
    public void An_evaluation_reaches_the_listener_as_loss_and_perplexity_unless_its_worker_generation_is_gone()
    {
        var s = Ready(4, Evaluating(interval: 4), heldOut: HeldOut);
        var heard = Assert.Single(Told<EvalMeasured>(s.Evaluated(new Evaluated(s.Generation, 4, 2.0, 640, 4, TimeSpan.FromMilliseconds(30))), Listener));
        Assert.Equal(new EvalMeasured(4, 2.0, Math.Exp(2.0), 640, 4, TimeSpan.FromMilliseconds(30)), heard);
        var restarted = s.WorkerRestarted(new WorkerRestarted("boom")).State;
        Assert.Empty(restarted.Evaluated(new Evaluated(s.Generation, 4, 2.0, 640, 4, TimeSpan.Zero)).Effects);   // redone after the reload
    }
}
