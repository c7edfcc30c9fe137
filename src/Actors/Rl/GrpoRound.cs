using MiniMind.Actors.Stages;
using MiniMind.Model;
using static MiniMind.Actors.GpuWorker;

namespace MiniMind.Actors.Rl;

/// <summary>
/// One GRPO micro-batch on its way through a <see cref="GpuWorker"/>'s children: its prompts rolled out by the
/// <see cref="RolloutActor"/> (with the worker's model), the completions scored by the <see cref="RewardActor"/>, then the
/// scored groups learned from by the worker. A state record with pure steps: <see cref="Start"/> (the round and the
/// <see cref="RolloutActor.RollOut"/> to send), <see cref="RolledOut"/> (the round with its completions and the
/// <see cref="RewardActor.ScoreCompletions"/> to send), <see cref="Scored"/> (what the learner learns from); an answer to
/// another request (<see cref="Awaits(RolloutActor.RolledOut)"/>) is not this round's. The worker holds the pending round
/// and, meanwhile, stashes its other work and does not touch the model.
/// </summary>
/// <param name="Id">the request id of both children's answers</param>
/// <param name="Work">the micro-batch to learn from</param>
/// <param name="Started">when the worker began it (the step's compute time counts from there)</param>
/// <param name="Groups">the completions, once rolled out</param>
/// <param name="RolloutTime">how long the rollouts took, once rolled out</param>
public sealed record GrpoRound(long Id, ComputeGradients Work, GrpoObjective Grpo, int[][] Prompts, long Started,
    GroupCompletions[]? Groups = null, TimeSpan RolloutTime = default)
{
    /// <summary>Round <paramref name="id"/> of <paramref name="work"/>, for the worker of <paramref name="generation"/>:
    /// the micro-batch's prompts, and the request for the rollout actor (seeded per sample and generation).</summary>
    public static (GrpoRound Round, RolloutActor.RollOut Request) Start(long id, int generation, ComputeGradients work, GrpoObjective grpo, long started)
    {
        var round = new GrpoRound(id, work, grpo, grpo.Prompts(work.Batch), started);
        return (round, new RolloutActor.RollOut(id, generation, round.Prompts, grpo.Seeds(work.Batch, work.Step), grpo.RolloutOptions));
    }

    /// <summary>Whether <paramref name="r"/> answers this round's rollout.</summary>
    public bool Awaits(RolloutActor.RolledOut r) => r.RequestId == Id;

    /// <summary>Whether <paramref name="s"/> answers this round's scoring (asked for once rolled out).</summary>
    public bool Awaits(RewardActor.Scored s) => s.RequestId == Id && Groups is not null;

    /// <summary>The completions are back: the round with them, and what the reward actor is asked to judge.</summary>
    public (GrpoRound Round, RewardActor.ScoreCompletions Request) RolledOut(RolloutActor.RolledOut r) =>
        (this with { Groups = r.Groups, RolloutTime = r.Elapsed }, new RewardActor.ScoreCompletions(Id, Grpo.RewardItems(Prompts, r.Groups)));

    /// <summary>The rewards are back: the rolled-out and scored groups the learner's loss takes.</summary>
    public GrpoRollouts Scored(RewardActor.Scored s) =>
        new(Prompts, Groups ?? throw new InvalidOperationException($"round {Id} scored before it was rolled out"), s.Rewards, RolloutTime, s.Elapsed);
}
