using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Akka.Actor;
using MiniMind.Actors.Protocol;

namespace MiniMind.Actors.Rl;

/// <summary>
/// The rewards of one replica (issue 16, item 3): a child of the <see cref="GpuWorker"/>, at <c>…/reward</c>, that owns
/// the stage's reward models (the rule reward, the HTTP reward model of <c>--reward-url</c> with its circuit breaker, or
/// any <see cref="IRewardModel"/>) and scores a micro-batch's completions off its own thread: <see cref="ScoreCompletions"/>
/// runs the models one after the other as a task (each item's total is the sum of the scores in model order) and the
/// actor replies <see cref="Scored"/> when it is done. Meanwhile it answers <see cref="FetchRlActorState"/>, so
/// <c>ctl actor health</c> shows a reward service that is down (breaker open) while the run waits for it. Requests are
/// scored one at a time, in order. A model that fails for good (<see cref="RewardProtocolException"/>) fails this actor;
/// it has no children and no strategy of its own, and its parent escalates the failure (the worker's step fails).
/// </summary>
public sealed class RewardActor : ReceiveActor, IWithUnboundedStash
{
    public const string Name = "reward";

    /// <summary>Score <paramref name="Items"/> (prompt-major); replies <see cref="Scored"/> (local only).</summary>
    public sealed record ScoreCompletions(long RequestId, IReadOnlyList<RewardItem> Items);

    /// <summary>Each item's total reward, and how long scoring took (the wait for a service included).</summary>
    public sealed record Scored(long RequestId, float[] Rewards, TimeSpan Elapsed);

    /// <summary>Self: the models' task finished (<paramref name="Rewards"/>) or failed (<paramref name="Cause"/>).</summary>
    sealed record ScoringEnded(float[]? Rewards, Exception? Cause);

    readonly IRewardModel[] models;
    readonly CancellationTokenSource stopping = new();
    (ScoreCompletions Request, IActorRef ReplyTo, long Started)? inFlight;
    long done;
    double? lastSeconds;

    public IStash Stash { get; set; } = null!;

    public RewardActor(Func<IRewardModel[]> create)
    {
        models = create();
        Receive<ScoreCompletions>(OnScore);
        Receive<ScoringEnded>(OnEnded);
        Receive<FetchRlActorState>(_ => Sender.Tell(State()));
    }

    /// <param name="create">Builds the models when the actor starts (it disposes them when it stops).</param>
    public static Props Props(Func<IRewardModel[]> create) => Akka.Actor.Props.Create(() => new RewardActor(create));

    RlActorState State()
    {
        var breaker = models.Select(m => m.Breaker).OfType<string>().DefaultIfEmpty(null)
            .Aggregate((a, b) => a == "open" || b == "open" ? "open" : a == "retrying" || b == "retrying" ? "retrying" : a ?? b);
        var state = inFlight is null ? "idle" : breaker is "open" or "retrying" ? "waiting for the reward service" : "scoring";
        return new RlActorState(Self.Path.ToStringWithoutAddress(), "reward", state, inFlight?.Request.Items.Count ?? 0, done, lastSeconds,
            Models: string.Join("+", models.Select(m => m.Name)), Breaker: breaker);
    }

    void OnScore(ScoreCompletions s)
    {
        if (inFlight is not null)
        {
            Stash.Stash();
            return;
        }
        inFlight = (s, Sender, Stopwatch.GetTimestamp());
        var (items, cancel) = (s.Items, stopping.Token);
        Task.Run(() => Total(models, items, cancel), cancel).PipeTo(Self, success: r => new ScoringEnded(r, null), failure: e => new ScoringEnded(null, e));
    }

    /// <summary>Runs on the thread pool (Task.Run), never on the actor's thread: a model that waits for its service holds
    /// no dispatcher thread.</summary>
    static async Task<float[]> Total(IReadOnlyList<IRewardModel> models, IReadOnlyList<RewardItem> items, CancellationToken cancel)
    {
        var total = new float[items.Count];
        foreach (var m in models)
        {
            var scores = await m.ScoreAsync(items, cancel).ConfigureAwait(false);
            for (var i = 0; i < total.Length; i++) total[i] += scores[i];
        }
        return total;
    }

    void OnEnded(ScoringEnded e)
    {
        if (inFlight is not { } f) return;
        inFlight = null;
        if (e.Cause is { } cause)
            ExceptionDispatchInfo.Capture(cause is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerException! : cause).Throw();
        var elapsed = Stopwatch.GetElapsedTime(f.Started);
        done += f.Request.Items.Count;
        lastSeconds = elapsed.TotalSeconds;
        f.ReplyTo.Tell(new Scored(f.Request.RequestId, e.Rewards!, elapsed));
        Stash.Unstash();
    }

    protected override void PostStop()
    {
        stopping.Cancel();
        foreach (var m in models) m.Dispose();
        stopping.Dispose();
        base.PostStop();
    }
}
