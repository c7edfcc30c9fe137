using MiniMind.Model.Tokenizer;

namespace MiniMind.Actors.Rl;

/// <summary>One completion to score: the conversation it answers (parsed from the rendered prompt, as MiniMind's
/// calculate_rewards does) and the decoded response (special tokens skipped).</summary>
public sealed record RewardItem(IReadOnlyList<ChatMessage> Messages, string Response)
{
    const string ThinkEnd = "</think>";

    /// <summary>What a reward model judges: the text after the first &lt;/think&gt; (stripped) when there is one, else
    /// the whole response (MiniMind's <c>answer</c>).</summary>
    public string Answer => Response.IndexOf(ThinkEnd, StringComparison.Ordinal) is var at and >= 0
        ? Response[(at + ThinkEnd.Length)..].Trim() : Response;
}

/// <summary>A source of rewards for GRPO completions: the rule-based reward (<see cref="RuleRewardModel"/>), an external
/// reward model over HTTP (<see cref="HttpRewardModel"/>), or anything else that scores (messages, response). A reward
/// is a float32; the stage's total is the sum of its models' scores. Called by the worker's <see cref="RewardActor"/> off
/// its thread (<see cref="ScoreAsync"/>), or inline (<see cref="Score"/>); a model that cannot answer waits (retrying,
/// with a log line) rather than return a made-up score.</summary>
public interface IRewardModel : IDisposable
{
    /// <summary>Short name for logs and health (rule, http).</summary>
    string Name { get; }

    /// <summary>One score per item, in order.</summary>
    float[] Score(IReadOnlyList<RewardItem> items);

    /// <summary><see cref="Score"/> without holding a thread while the model waits (a remote one overrides it).</summary>
    Task<float[]> ScoreAsync(IReadOnlyList<RewardItem> items, CancellationToken cancel) => Task.FromResult(Score(items));

    /// <summary>The circuit breaker of a model behind a service (closed, retrying, open), for <c>ctl actor health</c>;
    /// null for a local one.</summary>
    string? Breaker => null;
}

/// <summary>MiniMind's rule-based reward (<see cref="MiniMind.Model.RuleReward"/>): length, &lt;/think&gt; format, repetition.</summary>
public sealed class RuleRewardModel : IRewardModel
{
    public string Name => "rule";

    public float[] Score(IReadOnlyList<RewardItem> items) => [.. items.Select(i => MiniMind.Model.RuleReward.Score(i.Response))];

    public void Dispose() { }
}
