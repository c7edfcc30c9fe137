using MiniMind.Model.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model.Tests.Generation;

/// <summary>GRPO rollouts: a group is a pure function of (weights, prompt, seeds); rows finished early are filled with
/// EOS; the recorded log-probs are the policy's untempered log-probs of the sampled tokens.</summary>
public sealed class GroupRolloutTests
{
    static MiniMindForCausalLM Model()
    {
        torch.set_num_threads(1);
        return ModelLoader.Load(MiniMindConfig.Load(RepoPaths.ModelFixture("dense_tiny", "config.json")),
            RepoPaths.ModelFixture("grpo_dense_tiny", "policy_before.pth"));
    }

    static readonly int[] Prompt = [2515, 5686, 2992, 1374, 2172];
    static ulong[] Seeds(int step) => [.. Enumerable.Range(0, 4).Select(j => RolloutRandom.Seed(42, (ulong)step, 7, (ulong)j))];

    [Fact]
    public void The_same_seeds_give_the_same_group_and_other_seeds_another()
    {
        using var model = Model();
        var options = new RolloutOptions(4, 12, EosTokenId: 2);
        var a = GroupRollout.Generate(model, Prompt, options, Seeds(1));
        var b = GroupRollout.Generate(model, Prompt, options, Seeds(1));
        var c = GroupRollout.Generate(model, Prompt, options, Seeds(2));
        Assert.Equal(a.Completions, b.Completions);
        Assert.Equal(a.LogProbs, b.LogProbs);
        Assert.NotEqual(a.Completions, c.Completions);
        Assert.Equal(12, a.Length);                                      // an untrained model rarely says EOS: the cap
        Assert.Equal(4, a.Completions.Select(row => string.Join(",", row)).Distinct().Count());   // rows draw from their own seeds
    }

    [Fact]
    public void Recorded_log_probs_are_the_full_forwards_log_probs_of_the_sampled_tokens()
    {
        using var model = Model();
        var group = GroupRollout.Generate(model, Prompt, new RolloutOptions(4, 8, EosTokenId: 2), Seeds(3));
        using var scope = NewDisposeScope();
        model.eval();
        for (var j = 0; j < 4; j++)
        {
            var ids = tensor([.. Prompt.Select(t => (long)t), .. group.Completions[j]], [1, Prompt.Length + group.Length]);
            using var noGrad = no_grad();
            var logp = F.log_softmax(model.call(ids).logits, 2);                      // (1, L, V)
            for (var k = 0; k < group.Length; k++)
            {
                var expected = logp[0, Prompt.Length - 1 + k, group.Completions[j][k]].item<float>();
                Assert.True(Math.Abs(expected - group.LogProbs[j][k]) < 1e-4, $"row {j} token {k}: {group.LogProbs[j][k]} vs {expected}");
            }
        }
    }

    [Fact]
    public void A_row_that_emits_eos_is_filled_with_eos_until_the_group_ends()
    {
        using var model = Model();
        // EOS = the most likely first token of this prompt, at a temperature that makes it near certain for some row
        var options = new RolloutOptions(4, 6, Temperature: 0.05, TopK: 1, EosTokenId: 0);
        var greedy = GroupRollout.Generate(model, Prompt, options, Seeds(4)).Completions[0][0];
        var group = GroupRollout.Generate(model, Prompt, options with { EosTokenId = greedy }, Seeds(4));
        Assert.Equal(1, group.Length);                                   // every row: EOS first, so the group ends at once
        Assert.All(group.Completions, row => Assert.Equal(greedy, row[0]));
    }

    [Fact]
    public void Sampling_keeps_only_the_top_k_and_the_top_p_nucleus()
    {
        var logits = new float[] { 5f, 4.9f, 1f, 0.5f, -3f, 4.95f };
        var seen = new HashSet<long>();
        var random = new RolloutRandom(1);
        for (var i = 0; i < 2000; i++) seen.Add(GroupRollout.Sample(logits, new RolloutOptions(1, 1, Temperature: 1, TopK: 2, TopP: 1.0), random));
        Assert.Equal([0L, 5L], seen.Order());                            // k = 2: the two largest
        seen.Clear();
        for (var i = 0; i < 2000; i++) seen.Add(GroupRollout.Sample(logits, new RolloutOptions(1, 1, Temperature: 1, TopK: 0, TopP: 0.5), random));
        Assert.Equal([0L, 5L], seen.Order());                            // p = 0.5: 0 (≈0.34) then 5 (≈0.33) crosses it
    }
}
