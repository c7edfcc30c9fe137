using Akka.Actor;
using MiniMind.Actors.Rl;
using MiniMind.Actors.Stages;
using MiniMind.Actors.Tests.Stages;
using MiniMind.Model;
using Xunit;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors.Tests.Rl;

/// <summary>A GRPO micro-batch's round through the worker's rollout and reward actors, as pure steps: the rollout request
/// (the objective's prompts, seeds and options), the scoring request once its own completions are back, and the scored
/// groups the learner takes; answers to other requests are not the round's.</summary>
public sealed class GrpoRoundTests
{
    [Fact]
    public void A_round_asks_for_its_rollouts_then_its_scores_and_gives_the_learner_the_scored_groups()
    {
        using var grpo = (GrpoObjective)StageObjective.For(GrpoObjectiveTests.Settings());
        var batch = GrpoObjectiveTests.Batch(3, 17);
        var work = new ComputeGradients(2, 5, 0, 1, batch, ActorRefs.Nobody);

        var (round, rollOut) = GrpoRound.Start(7, 2, work, grpo, started: 123);
        Assert.Equal((7L, 2, 123L), (rollOut.RequestId, rollOut.Generation, round.Started));
        Assert.Same(work, round.Work);
        Assert.Same(round.Prompts, rollOut.Prompts);
        Assert.Equal(grpo.Prompts(batch), rollOut.Prompts);
        Assert.Equal(grpo.Seeds(batch, 5), rollOut.Seeds);
        Assert.Equal(grpo.RolloutOptions, rollOut.Options);

        // three completions per prompt (NumGenerations = 3)
        var groups = round.Prompts.Select(_ => new GroupCompletions([[40, 41], [42], [43, 44, 45]], [[-0.5f, -0.25f], [-1f], [-0.1f, -0.2f, -0.3f]])).ToArray();
        Assert.False(round.Awaits(new RolloutActor.RolledOut(8, groups, TimeSpan.Zero)));   // another request's
        Assert.False(round.Awaits(new RewardActor.Scored(7, [], TimeSpan.Zero)));            // not rolled out yet
        Assert.True(round.Awaits(new RolloutActor.RolledOut(7, groups, TimeSpan.Zero)));

        var (rolled, score) = round.RolledOut(new RolloutActor.RolledOut(7, groups, TimeSpan.FromSeconds(2)));
        Assert.Equal(7, score.RequestId);
        Assert.Equal(grpo.RewardItems(round.Prompts, groups).Select(i => i.Response), score.Items.Select(i => i.Response));
        Assert.Equal(6, score.Items.Count);
        Assert.True(rolled.Awaits(new RewardActor.Scored(7, [], TimeSpan.Zero)));
        Assert.False(rolled.Awaits(new RewardActor.Scored(6, [], TimeSpan.Zero)));

        float[] rewards = [1, 0, 0.5f, 0, 1, 1];
        var learned = rolled.Scored(new RewardActor.Scored(7, rewards, TimeSpan.FromSeconds(1)));
        Assert.Equal(new GrpoRollouts(round.Prompts, groups, rewards, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)), learned);
        Assert.Throws<InvalidOperationException>(() => round.Scored(new RewardActor.Scored(7, rewards, TimeSpan.Zero)));
    }
}
