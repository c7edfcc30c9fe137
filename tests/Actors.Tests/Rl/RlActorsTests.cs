using Akka.Actor;
using MiniMind.Actors.Protocol;
using MiniMind.Actors.Rl;
using MiniMind.Model;
using MiniMind.Model.Tokenizer;
using TorchSharp;
using Xunit;

namespace MiniMind.Actors.Tests.Rl;

/// <summary>The GRPO pipeline's actors on their own: the rollout actor generates exactly what <see cref="GroupRollout"/>
/// generates inline (same seeds, same bits) and answers health between prompts; the reward actor sums its models' scores
/// in model order off its thread, answering health (breaker open) while a model waits for its service, and fails on a
/// protocol error so that its parent can escalate it.</summary>
public sealed class RlActorsTests(ITestOutputHelper output) : Akka.TestKit.Xunit.TestKit("akka.loglevel = WARNING", output: output)
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    static readonly IReadOnlyList<ChatMessage> Messages = [new("user", "Who are you?")];

    [Fact]
    public async Task Rollout_actor_generates_the_groups_the_inline_rollout_generates()
    {
        torch.set_num_threads(1);
        torch.manual_seed(7);
        using var model = new MiniMindForCausalLM(MiniMindConfig.Load(RepoPaths.Preset("tiny")));
        int[][] prompts = [[1, 40, 41, 42, 43], [1, 50, 51]];
        ulong[][] seeds = [[11, 12, 13], [21, 22, 23]];
        var options = new RolloutOptions(3, 6);
        var inline = prompts.Select((p, i) => GroupRollout.Generate(model, p, options, seeds[i])).ToArray();

        var rollout = Sys.ActorOf(RolloutActor.Props(1), RolloutActor.Name);
        rollout.Tell(new RolloutActor.UsePolicy(4, model));
        var idle = await rollout.Ask<RlActorState>(FetchRlActorState.Instance, Patience);
        Assert.Equal(("rollout", "idle", 0L, (double?)null), (idle.Kind, idle.State, idle.Done, idle.LastSeconds));

        rollout.Tell(new RolloutActor.RollOut(9, 4, prompts, seeds, options), TestActor);
        var done = await ExpectMsgAsync<RolloutActor.RolledOut>(Patience);
        Assert.Equal(9, done.RequestId);
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(inline[i].Completions, done.Groups[i].Completions);
            Assert.Equal(inline[i].LogProbs, done.Groups[i].LogProbs);
        }
        var after = await rollout.Ask<RlActorState>(FetchRlActorState.Instance, Patience);
        Assert.Equal(("idle", 6L), (after.State, after.Done));
        Assert.True(after.LastSeconds > 0 && after.TokensPerSecond > 0);
    }

    /// <summary>A reward model behind a service that is away until <see cref="Release"/>: its breaker is open meanwhile.</summary>
    sealed class GatedModel : IRewardModel
    {
        readonly TaskCompletionSource open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string Name => "gated";
        public string? Breaker => open.Task.IsCompleted ? "closed" : "open";
        public void Release() => open.TrySetResult();
        public float[] Score(IReadOnlyList<RewardItem> items) => throw new InvalidOperationException("the actor scores async");

        public async Task<float[]> ScoreAsync(IReadOnlyList<RewardItem> items, CancellationToken cancel)
        {
            await open.Task.WaitAsync(cancel);
            return [.. items.Select((_, i) => 0.25f * i)];
        }

        public void Dispose() { }
    }

    sealed class FixedModel(params float[] scores) : IRewardModel
    {
        public string Name => "fixed";
        public float[] Score(IReadOnlyList<RewardItem> items) => scores;
        public void Dispose() { }
    }

    [Fact]
    public async Task Reward_actor_sums_the_scores_in_model_order_and_shows_an_open_breaker_while_its_service_is_away()
    {
        var gated = new GatedModel();
        var reward = Sys.ActorOf(RewardActor.Props(() => [new FixedModel(1f, 2f, 3f), gated]));
        RewardItem[] items = [new(Messages, "a"), new(Messages, "b"), new(Messages, "c")];
        reward.Tell(new RewardActor.ScoreCompletions(5, items), TestActor);
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));                 // waiting for the gated model
        var waiting = await reward.Ask<RlActorState>(FetchRlActorState.Instance, Patience);
        Assert.Equal(("reward", "waiting for the reward service", 3, "fixed+gated", "open"),
            (waiting.Kind, waiting.State, waiting.InFlight, waiting.Models, waiting.Breaker));

        // The scoring began before the answer above and ends after the release: it lasts at least the time between them
        // (measured here, not assumed from the 300 ms above: on a loaded machine the actor may start late).
        var held = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(200, TestContext.Current.CancellationToken);
        var heldSeconds = held.Elapsed.TotalSeconds;
        gated.Release();
        var scored = await ExpectMsgAsync<RewardActor.Scored>(Patience);
        Assert.Equal(5, scored.RequestId);
        Assert.Equal([1f + 0f, 2f + 0.25f, 3f + 0.5f], scored.Rewards);
        var idle = await reward.Ask<RlActorState>(FetchRlActorState.Instance, Patience);
        Assert.Equal(("idle", 0, 3L, "closed"), (idle.State, idle.InFlight, idle.Done, idle.Breaker));
        Assert.True(idle.LastSeconds >= heldSeconds, $"last scoring took {idle.LastSeconds:F3} s, but it was held {heldSeconds:F3} s");
    }

    sealed class BrokenService : IRewardModel
    {
        public string Name => "http";
        public float[] Score(IReadOnlyList<RewardItem> items) => throw new RewardProtocolException("reward service http://x/score answered 404 Not Found");
        public Task<float[]> ScoreAsync(IReadOnlyList<RewardItem> items, CancellationToken cancel) => Task.Run(() => Score(items), cancel);
        public void Dispose() { }
    }

    /// <summary>Escalates like the worker does, so the failure reaches the test as the parent's.</summary>
    sealed class Parent(IActorRef probe) : ReceiveActor
    {
        readonly IActorRef child = Context.ActorOf(RewardActor.Props(() => [new BrokenService()]), RewardActor.Name);

        protected override void PreStart() => child.Tell(new RewardActor.ScoreCompletions(1, [new RewardItem(Messages, "x")]));

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(e =>
        {
            probe.Tell(e);
            return Directive.Stop;
        });
    }

    [Fact]
    public async Task Reward_actor_fails_with_the_protocol_error_of_its_model()
    {
        Sys.ActorOf(Akka.Actor.Props.Create(() => new Parent(TestActor)));
        var failure = await ExpectMsgAsync<RewardProtocolException>(Patience);
        Assert.Contains("404", failure.Message);
    }
}
