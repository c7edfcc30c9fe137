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

/// <summary>
/// train_grpo.py on the one runtime: a micro-batch is a set of prompts (<see cref="MiniMind.Model.Data.RlaifDataset"/>),
/// and the worker that computes it (1) rolls out <c>num_generations</c> completions per prompt with the weights it
/// holds (<see cref="GroupRollout"/>: KV cache, temperature 0.8, an RNG seeded per (run seed, step, sample, generation),
/// so a re-issued micro-batch gives the same bits), (2) scores them with the reward models (rule, plus
/// <c>--reward-url</c>), (3) normalises the rewards within each prompt's group and (4) returns the GRPO/CISPO loss of
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
        tokenizer ??= BpeTokenizer.FromFile(Settings.TokenizerPath);
        special ??= MiniMindSpecialTokens.From(tokenizer);
        rewards ??= DefaultRewards();
        var g = grpo.NumGenerations;
        var options = grpo.Rollout with { EosTokenId = special.EosId };

        // 1. rollouts: G completions per prompt, with the weights this worker holds
        var started = Stopwatch.GetTimestamp();
        var prompts = new int[batch.Rows][];
        var groups = new GroupCompletions[batch.Rows];
        for (var r = 0; r < batch.Rows; r++)
        {
            prompts[r] = PromptOf(batch, r);
            var seeds = Enumerable.Range(0, g).Select(j => RolloutRandom.Seed(Settings.Seed, (ulong)step, (ulong)batch.Samples[r], (ulong)j)).ToArray();
            groups[r] = GroupRollout.Generate(model, prompts[r], options, seeds);
        }
        var rolloutTime = Stopwatch.GetElapsedTime(started);

        // 2. rewards
        started = Stopwatch.GetTimestamp();
        var items = new List<RewardItem>(batch.Rows * g);
        for (var r = 0; r < batch.Rows; r++)
        {
            var messages = Messages(tokenizer.Decode(prompts[r]));
            foreach (var completion in groups[r].Completions)
                items.Add(new RewardItem(messages, tokenizer.Decode([.. completion.Select(t => (int)t)], skipSpecialTokens: true)));
        }
        var total = new float[items.Count];
        foreach (var m in rewards)
        {
            var scores = m.Score(items);
            for (var i = 0; i < total.Length; i++) total[i] += scores[i];
        }
        var rewardTime = Stopwatch.GetElapsedTime(started);

        // 3. the learner's batch: N = B·G rows of prompt | completion, right-padded
        var batchOf = Layout(prompts, groups, g, special.PadId);
        using var scope = NewDisposeScope();
        var outputs = tensor(batchOf.Outputs, [batchOf.Rows, batchOf.Width], dtype: ScalarType.Int64).to(device);
        using var padId = special.PadId.ToScalar();
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
        var mask = Grpo.CompletionMask(completionIds, torch.ones_like(completionIds), special.EosId);
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

    IRewardModel[] DefaultRewards() => grpo.RewardUrl is { } url
        ? [new RuleRewardModel(), new HttpRewardModel(new Uri(url), Warn)]
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
