using System.Diagnostics;
using Akka.Actor;
using MiniMind.Actors.Protocol;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Actors.Rl;

/// <summary>
/// The rollouts of one replica (issue 16, item 3): a child of the <see cref="GpuWorker"/> that owns the policy, at
/// <c>…/worker-0/rollout</c> or <c>…/replica-*/rollout</c>. For each GRPO micro-batch the worker asks it to
/// <see cref="RollOut"/> the prompts; it generates each prompt's group with <see cref="GroupRollout"/> (KV cache,
/// temperature 0.8, one RNG per (run seed, step, sample, generation): the same bits on any worker, so a rollout lost with
/// its node is re-issued elsewhere by re-issuing its micro-batch) and replies <see cref="RolledOut"/>.
///
/// It rolls out with the replica's own model (<see cref="UsePolicy"/>, in this process): AdamW updates that model in place
/// after each step, so every rollout uses the current weights with no copy. Thread discipline: the worker does not touch
/// the model from sending <see cref="RollOut"/> until <see cref="RolledOut"/> is back (it stashes its other work), and
/// this actor touches it only then, one prompt per message inside one dispose scope, on a pinned thread of its own when
/// the host configures <see cref="GpuWorker.DispatcherId"/>. One prompt per message also keeps it answering
/// <see cref="FetchRlActorState"/> between prompts. Supervision: none of its own (no children); a failed rollout fails
/// the worker's step (the worker escalates it).
/// </summary>
public sealed class RolloutActor : ReceiveActor
{
    public const string Name = "rollout";

    /// <summary>The policy to roll out with: the replica's model for its run generation <paramref name="Generation"/>
    /// (sent after every (re)initialisation; local only).</summary>
    public sealed record UsePolicy(int Generation, MiniMindForCausalLM Model);

    /// <summary>Generate a group of <c>Seeds[r].Length</c> completions for each prompt r, with the policy of
    /// <paramref name="Generation"/>. Replies <see cref="RolledOut"/> (local only).</summary>
    public sealed record RollOut(long RequestId, int Generation, int[][] Prompts, ulong[][] Seeds, RolloutOptions Options);

    /// <summary>The groups, in prompt order, and the rollout's wall time.</summary>
    public sealed record RolledOut(long RequestId, GroupCompletions[] Groups, TimeSpan Elapsed);

    /// <summary>Self: roll out the current request's next prompt.</summary>
    sealed record RollNext
    {
        public static RollNext Instance { get; } = new();
    }

    /// <summary>The request being rolled out: its groups so far (the first <paramref name="Next"/> are done).</summary>
    sealed record Job(RollOut Request, IActorRef ReplyTo, GroupCompletions[] Groups, int Next, long Started)
    {
        public int CompletionsLeft => Request.Seeds.Skip(Next).Sum(s => s.Length);
    }

    /// <summary>What health shows: completions done, the last micro-batch's rollout time and generation rate.</summary>
    sealed record Tally(long Completions, double? LastSeconds, double TokensPerSecond)
    {
        public static Tally Empty { get; } = new(0, null, 0);

        public Tally Finished(GroupCompletions[] groups, TimeSpan elapsed)
        {
            var tokens = groups.Sum(g => (long)g.Completions.Length * g.Length);
            return new(Completions + groups.Sum(g => g.Completions.Length), elapsed.TotalSeconds,
                elapsed > TimeSpan.Zero ? tokens / elapsed.TotalSeconds : 0);
        }
    }

    readonly int threads;
    (int Generation, MiniMindForCausalLM? Model) policy = (-1, null);
    Job? job;
    Tally tally = Tally.Empty;

    public RolloutActor(int threads)
    {
        this.threads = threads;
        Receive<UsePolicy>(p => policy = (p.Generation, p.Model));
        Receive<RollOut>(OnRollOut);
        Receive<RollNext>(_ => OnRollNext());
        Receive<FetchRlActorState>(_ => Sender.Tell(new RlActorState(Self.Path.ToStringWithoutAddress(), "rollout",
            job is null ? "idle" : $"rolling out ({job.Next}/{job.Request.Prompts.Length} prompts)", job?.CompletionsLeft ?? 0,
            tally.Completions, tally.LastSeconds, tally.TokensPerSecond)));
    }

    /// <param name="threads">torch's intra-op threads for this actor's thread (0: torch's default), as the worker's.</param>
    public static Props Props(int threads) => Akka.Actor.Props.Create(() => new RolloutActor(threads));

    /// <summary><see cref="Props(int)"/> on the worker's pinned dispatcher when <paramref name="system"/> configures it.</summary>
    public static Props Props(ActorSystem system, int threads) =>
        system.Dispatchers.HasDispatcher(GpuWorker.DispatcherId) ? Props(threads).WithDispatcher(GpuWorker.DispatcherId) : Props(threads);

    void OnRollOut(RollOut r)
    {
        if (job is not null) throw new InvalidOperationException($"rollout {r.RequestId} asked while {job.Request.RequestId} is rolling out");
        if (r.Generation != policy.Generation || policy.Model is null)
            throw new InvalidOperationException($"rollout for generation {r.Generation}, but the policy is of generation {policy.Generation}");
        job = new Job(r, Sender, new GroupCompletions[r.Prompts.Length], 0, Stopwatch.GetTimestamp());
        Self.Tell(RollNext.Instance);
    }

    void OnRollNext()
    {
        if (job is null) return;
        if (job.Next < job.Request.Prompts.Length)
        {
            if (threads > 0 && torch.get_num_threads() != threads) torch.set_num_threads(threads);   // per thread, as the worker sets it
            using (torch.NewDisposeScope())
                job.Groups[job.Next] = GroupRollout.Generate(policy.Model!, job.Request.Prompts[job.Next], job.Request.Options, job.Request.Seeds[job.Next]);
            job = job with { Next = job.Next + 1 };
            Self.Tell(RollNext.Instance);
            return;
        }
        var elapsed = Stopwatch.GetElapsedTime(job.Started);
        tally = tally.Finished(job.Groups, elapsed);
        job.ReplyTo.Tell(new RolledOut(job.Request.RequestId, job.Groups, elapsed));
        job = null;
    }
}
