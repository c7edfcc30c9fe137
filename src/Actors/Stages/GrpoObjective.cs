using System.Diagnostics;
using System.Text.RegularExpressions;
using MiniMind.Actors.Rl;
using MiniMind.Model;
using MiniMind.Model.Tokenizer;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>What one GRPO micro-batch measured (for the log line, /metrics and TensorBoard).</summary>
public sealed record GrpoStats(int Completions, double RewardMean, double RewardStd, double Kl, double CompletionLength,
    double ClipFraction, long RolloutTokens, TimeSpan RolloutTime, TimeSpan RewardTime);

/// <summary>One micro-batch's rollouts, ready for the learner: its prompts, each prompt's group of completions, every
/// completion's total reward (prompt-major), and how long rolling out and scoring took.</summary>
public sealed record GrpoRollouts(int[][] Prompts, GroupCompletions[] Groups, float[] Rewards, TimeSpan RolloutTime, TimeSpan RewardTime);

/// <summary>
/// train_grpo.py on the one runtime: a micro-batch is a set of prompts (<see cref="MiniMind.Model.Data.RlaifDataset"/>),
/// and the worker that computes it has (1) its <see cref="RolloutActor"/> roll out <c>num_generations</c> completions per
/// prompt with the weights it holds (<see cref="GroupRollout"/>: KV cache, temperature 0.8, an RNG seeded per (run seed,
/// step, sample, generation), so a re-issued micro-batch gives the same bits), (2) its <see cref="RewardActor"/> score them
/// with the reward models (rule, plus <c>--reward-url</c>), then (3) normalises the rewards within each prompt's group and (4) returns the GRPO/CISPO loss of
/// the policy against the frozen reference (<see cref="Grpo"/>); its gradient then goes the way every stage's does
/// (aggregator: sum, clip, AdamW; new weights to every replica). Prompts keep their own lengths: each row is
/// prompt | completion right-padded with the pad id, the layout of the parity fixture, so no prompt is left-padded.
/// </summary>
public sealed class GrpoObjective(TrainingSettings settings) : FrozenModelObjective(settings, "GRPO reference")
{
    readonly GrpoSettings grpo = settings.Grpo ?? new GrpoSettings();
    BpeTokenizer? tokenizer;
    MiniMindSpecialTokens? special;
    IRewardModel[]? rewards;

    /// <summary>The last micro-batch's measurements (worker thread).</summary>
    public GrpoStats? Last { get; private set; }

    public override RlMetrics? LastMetrics => lastMetrics;
    RlMetrics? lastMetrics;

    /// <summary>Replaces the reward models (tests; the default is the rule reward plus <see cref="GrpoSettings.RewardUrl"/>).</summary>
    public void UseRewards(params IRewardModel[] models)
    {
        DisposeRewards();
        rewards = models;
    }

    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device) =>
        throw new InvalidOperationException("a GRPO micro-batch needs its step (rollouts are seeded by it)");

    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device, long step)
    {
        // rollouts and scoring inline, on the caller's thread (tests, bench); a worker has its rollout and reward actors do them
        rewards ??= DefaultRewards(grpo, Warn);
        var started = Stopwatch.GetTimestamp();
        var prompts = Prompts(batch);
        var seeds = Seeds(batch, step);
        var options = RolloutOptions;
        var groups = new GroupCompletions[prompts.Length];
        for (var r = 0; r < prompts.Length; r++) groups[r] = GroupRollout.Generate(model, prompts[r], options, seeds[r]);
        var rolloutTime = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        var total = TotalRewards(rewards, RewardItems(prompts, groups));
        return Loss(model, accumulation, device, new GrpoRollouts(prompts, groups, total, rolloutTime, Stopwatch.GetElapsedTime(started)));
    }

    /// <summary>The micro-batch's prompts: row r's leading tokens of mask 1.</summary>
    public int[][] Prompts(DataLoader.MicroBatch batch) => [.. Enumerable.Range(0, batch.Rows).Select(r => PromptOf(batch, r))];

    /// <summary>The rollout seeds of the micro-batch: G per prompt, from (run seed, step, sample, generation).</summary>
    public ulong[][] Seeds(DataLoader.MicroBatch batch, long step) =>
        [.. Enumerable.Range(0, batch.Rows).Select(r => Enumerable.Range(0, grpo.NumGenerations)
            .Select(j => RolloutRandom.Seed(Settings.Seed, (ulong)step, (ulong)batch.Samples[r], (ulong)j)).ToArray())];

    /// <summary>How the rollouts sample (the stage's options with the tokenizer's EOS).</summary>
    public RolloutOptions RolloutOptions => grpo.Rollout with { EosTokenId = Special.EosId };

    BpeTokenizer Tokenizer => tokenizer ??= BpeTokenizer.FromFile(Settings.TokenizerPath);

    MiniMindSpecialTokens Special => special ??= MiniMindSpecialTokens.From(Tokenizer);

    /// <summary>What the reward models judge: per prompt, its conversation and each completion decoded (special tokens
    /// skipped), prompt-major.</summary>
    public IReadOnlyList<RewardItem> RewardItems(IReadOnlyList<int[]> prompts, IReadOnlyList<GroupCompletions> groups)
    {
        var items = new List<RewardItem>(prompts.Count * grpo.NumGenerations);
        for (var r = 0; r < prompts.Count; r++)
        {
            var messages = Messages(Tokenizer.Decode(prompts[r]));
            foreach (var completion in groups[r].Completions)
                items.Add(new RewardItem(messages, Tokenizer.Decode([.. completion.Select(t => (int)t)], skipSpecialTokens: true)));
        }
        return items;
    }

    /// <summary>Each item's reward: the sum of the models' scores, in model order.</summary>
    public static float[] TotalRewards(IReadOnlyList<IRewardModel> models, IReadOnlyList<RewardItem> items)
    {
        var total = new float[items.Count];
        foreach (var m in models)
        {
            var scores = m.Score(items);
            for (var i = 0; i < total.Length; i++) total[i] += scores[i];
        }
        return total;
    }

    /// <summary>The learner's part: the GRPO/CISPO loss of the policy on the micro-batch's rolled-out and scored
    /// completions (<paramref name="rollouts"/>, from the rollout and reward actors or the inline path).</summary>
    public Tensor Loss(MiniMindForCausalLM model, int accumulation, Device device, GrpoRollouts rollouts)
    {
        var g = grpo.NumGenerations;
        var (prompts, groups, total, rolloutTime, rewardTime) = rollouts;

        // 3. the learner's batch: N = B·G rows of prompt | completion, right-padded
        var batchOf = Layout(prompts, groups, g, Special.PadId);
        using var scope = NewDisposeScope();
        var outputs = tensor(batchOf.Outputs, [batchOf.Rows, batchOf.Width], dtype: ScalarType.Int64).to(device);
        using var padId = Special.PadId.ToScalar();
        var fullMask = outputs.ne(padId).to_type(ScalarType.Int64);
        var logpPos = tensor(batchOf.LogpPos, [batchOf.Rows, batchOf.R], dtype: ScalarType.Int64).to(device);
        var completionIds = tensor(batchOf.Completions, [batchOf.Rows, batchOf.R], dtype: ScalarType.Int64).to(device);
        var oldLogps = tensor(batchOf.OldLogps, [batchOf.Rows, batchOf.R]).to(device);
        var rewardTensor = tensor(total).to(device);

        Tensor refLogps;
        using (no_grad())
            refLogps = Grpo.PerTokenLogps(Frozen.forward(outputs, fullMask, null, false).logits, outputs, logpPos);
        var output = model.forward(outputs, fullMask, null, false);
        var logps = Grpo.PerTokenLogps(output.logits, outputs, logpPos);
        var advantages = Grpo.Advantages(rewardTensor, g);
        var mask = Grpo.CompletionMask(completionIds, torch.ones_like(completionIds), Special.EosId);
        var parts = Grpo.Loss(logps, oldLogps, refLogps, advantages, mask, grpo.Hyper);
        using var steps = accumulation.ToScalar();
        var loss = parts.PolicyLoss.add(output.aux_loss, Scalars.One).div(steps);

        var maskF = mask.to_type(ScalarType.Float32);
        var tokens = maskF.sum().item<float>();
        var kl = tokens == 0 ? 0 : parts.PerTokenKl.detach().mul(maskF).sum().item<float>() / tokens;   // the k3 KL the loss uses, ≥ 0
        var mean = total.Average();
        lastMetrics = new RlMetrics(total.Length, total.Sum(x => (double)x), total.Sum(x => (double)x * x), tokens,
            kl * tokens, parts.ClippedFraction.item<float>() * tokens, rolloutTime.TotalSeconds, rewardTime.TotalSeconds);
        Last = new GrpoStats(total.Length, mean, Math.Sqrt(total.Average(x => (x - mean) * (x - mean))), kl,
            tokens / total.Length, parts.ClippedFraction.item<float>(), (long)tokens, rolloutTime, rewardTime);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Row <paramref name="r"/>'s prompt: its leading tokens of mask 1 (<see cref="MiniMind.Model.Data.RlaifDataset"/>).</summary>
    static int[] PromptOf(DataLoader.MicroBatch batch, int r)
    {
        var t = batch.SeqLen;
        var n = 0;
        while (n < t && batch.Mask[r * t + n] > 0) n++;
        if (n == 0) throw new InvalidDataException($"sample {batch.Samples[r]} has an empty prompt");
        return batch.X.AsSpan(r * t, n).ToArray();
    }

    static readonly Regex Turn = new(@"<\|im_start\|>(system|user|assistant)\s+(.*?)<\|im_end\|>", RegexOptions.Singleline | RegexOptions.CultureInvariant);

    /// <summary>The conversation a prompt renders (MiniMind's calculate_rewards parses it back with the same pattern).</summary>
    public static IReadOnlyList<ChatMessage> Messages(string prompt) =>
        [.. Turn.Matches(prompt).Select(m => new ChatMessage(m.Groups[1].Value, m.Groups[2].Value.Trim()))];

    /// <summary>The learner's batch in the fixture's layout: row (r·G + j) is prompt r then its completion j, right-padded
    /// with <paramref name="pad"/>; completions of shorter groups are filled with their last token (EOS, or the
    /// length-capped last token: masked out either way past the first EOS) up to the longest group's R.</summary>
    public static LearnerBatch Layout(IReadOnlyList<int[]> prompts, IReadOnlyList<GroupCompletions> groups, int g, int pad)
    {
        var rows = prompts.Count * g;
        var r = groups.Max(x => x.Length);
        var width = prompts.Max(p => p.Length) + r;
        var outputs = new long[rows * width];
        Array.Fill(outputs, pad);
        var logpPos = new long[rows * r];
        var completions = new long[rows * r];
        var old = new float[rows * r];
        for (var i = 0; i < prompts.Count; i++)
            for (var j = 0; j < g; j++)
            {
                var row = i * g + j;
                var p = prompts[i];
                var c = groups[i].Completions[j];
                for (var k = 0; k < p.Length; k++) outputs[row * width + k] = p[k];
                for (var k = 0; k < r; k++)
                {
                    var token = c.Length == 0 ? pad : c[Math.Min(k, c.Length - 1)];
                    outputs[row * width + p.Length + k] = token;
                    completions[row * r + k] = token;
                    logpPos[row * r + k] = p.Length - 1 + k;
                    old[row * r + k] = k < c.Length ? groups[i].LogProbs[j][k] : 0f;
                }
            }
        return new LearnerBatch(rows, width, r, outputs, logpPos, completions, old);
    }

    /// <summary>N rows of <paramref name="Width"/> ids, and the (N, R) completion arrays.</summary>
    public sealed record LearnerBatch(int Rows, int Width, int R, long[] Outputs, long[] LogpPos, long[] Completions, float[] OldLogps);

    /// <summary>The stage's reward models: the rule reward, plus the HTTP reward model of <see cref="GrpoSettings.RewardUrl"/>.</summary>
    public static IRewardModel[] DefaultRewards(GrpoSettings grpo, Action<string> warn) => grpo.RewardUrl is { } url
        ? [new RuleRewardModel(), new HttpRewardModel(new Uri(url), warn)]
        : [new RuleRewardModel()];

    /// <summary>The reward models in use (health).</summary>
    public IReadOnlyList<IRewardModel> Rewards => rewards ?? [];

    void DisposeRewards()
    {
        foreach (var m in rewards ?? []) m.Dispose();
        rewards = null;
    }

    public override void Dispose()
    {
        DisposeRewards();
        base.Dispose();
    }
}
