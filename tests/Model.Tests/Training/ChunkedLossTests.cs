using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Model.Tests.Training;

/// <summary>The workers' chunked loss (<see cref="Losses.ChunkedPretrainLoss"/>) against the whole-logits loss
/// (<see cref="Losses.PretrainLoss(CausalLMOutput, Tensor, Tensor, int)"/>) on the same model and batch: the same value
/// and the same gradient up to the matmuls' summation order, with accumulation, the MoE aux loss and bf16.</summary>
public class ChunkedLossTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("moe_tiny", 7L, 3, false)]
    [InlineData("dense_tiny", 4L, 1, false)]
    [InlineData("dense_tiny", 3L, 2, true)]
    public void The_chunked_loss_has_the_whole_logits_value_and_gradient(string setName, long chunkRows, int accumulation, bool bf16)
    {
        var set = new FixtureSet(setName);
        using var model = Fixture.Model(set);
        if (bf16) model.ComputeDType = ScalarType.BFloat16;
        using var step = GradientStep.For(model);
        var (ids, labels) = (set.Tensor("input_ids"), set.Tensor("labels"));
        var mask = set.Tensor("loss_mask").clone();
        mask[0, 3] = tensor(0f);                                                     // a masked position inside a chunk

        var whole = new float[step.Length];
        var chunked = new float[step.Length];
        var wholeLoss = step.Backward(model, () => Losses.PretrainLoss(model.call(ids), labels, mask, accumulation), whole);
        var chunkedLoss = step.Backward(model, () => Losses.ChunkedPretrainLoss(model, ids, labels, mask, accumulation, chunkRows), chunked);

        output.WriteLine($"{setName} chunks of {chunkRows}, accumulation {accumulation}, bf16 {bf16}: loss {wholeLoss:R} vs {chunkedLoss:R}");
        Assert.True(Math.Abs(wholeLoss - chunkedLoss) <= 1e-6 * Math.Abs(wholeLoss), $"loss {chunkedLoss:R} vs {wholeLoss:R}");
        var scale = whole.Max(MathF.Abs);
        var worst = whole.Zip(chunked, (a, b) => MathF.Abs(a - b)).Max();
        output.WriteLine($"max|Δgrad| = {worst:E2} (max|grad| {scale:E2})");
        Assert.True(scale > 0);
        Assert.True(worst <= (bf16 ? 5e-3 : 5e-5) * scale, $"max|Δgrad| {worst:E3} vs max|grad| {scale:E3}");
    }

    [Fact]
    public void Without_grad_the_chunked_loss_is_the_value_alone()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        var (ids, labels, mask) = (set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
        using var _ = no_grad();
        var whole = Losses.PretrainLoss(model.call(ids), labels, mask).item<float>();
        var chunked = Losses.ChunkedPretrainLoss(model, ids, labels, mask, chunkRows: 5);
        Assert.False(chunked.requires_grad);
        Assert.Equal(whole, chunked.item<float>(), 6);
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
    }

    [Theory]
    [InlineData(4096L, 6400L, 158L)]        // minimind2-small B8×T512: 105 MB of logits in 26 chunks of ≤ 4 MiB
    [InlineData(2048L, 6400L, 158L)]        // the tiny main job B16×T128: 13 chunks
    [InlineData(32L, 6400L, 32L)]           // small batches: one chunk
    [InlineData(1000L, 6400L, 143L)]        // 7 equal chunks of ≤ 143 rows, not 6 full ones and a remainder of 22
    public void Chunks_hold_at_most_4_MiB_of_logits_in_equal_parts(long rows, long vocab, long expected)
    {
        var chunk = Losses.ChunkRows(rows, vocab);
        Assert.Equal(expected, chunk);
        Assert.True(chunk * vocab * sizeof(float) <= Losses.LogitChunkBytes);
    }
}
