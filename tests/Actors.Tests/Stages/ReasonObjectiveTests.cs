using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Actors.Tests.Stages;

public sealed class ReasonObjectiveTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("minimind-reason-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public void Reason_loss_weights_tag_targets_by_10_and_divides_by_the_unweighted_mask_sum_of_the_batch()
    {
        var jsonl = Path.Combine(dir, "r.jsonl");
        File.WriteAllLines(jsonl, File.ReadLines(Path.Combine(RepoPaths.Root, "dataset", "reason.jsonl")).Take(6));
        var settings = new TrainingSettings
        {
            Stage = "reason", DataPath = jsonl, TokenizerPath = RepoPaths.Tokenizer, RunDir = dir, MaxSeqLen = 96, BatchSize = 3, AccumulationSteps = 1,
            ConfigJson = MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson(),
        };
        using var reason = (ShardDataset)StageData.Open(settings);
        using var sft = PreparedData.OpenOrPrepare(jsonl, RepoPaths.Tokenizer, DataStage.Sft, 96, Path.Combine(dir, "sft"));
        var plan = TrainingPlan.For(reason.Count, settings);
        var order = Enumerable.Range(0, (int)reason.Count).Select(i => (long)i).ToArray();
        var batch = DataLoader.Build(reason, plan, order, 0).Micro[0];
        var plain = DataLoader.Build(sft, plan, order, 0).Micro[0];

        // The batch's weights are the SFT mask with every tag-piece target set to 10; the normaliser is the SFT mask's sum.
        var tags = ReasonLossMask.TagIds(BpeTokenizer.FromFile(RepoPaths.Tokenizer));
        Assert.Equal(plain.Mask.Sum(), batch.LossNormalizer);
        Assert.Equal(plain.Y, batch.Y);
        for (var i = 0; i < batch.Mask.Length; i++)
            Assert.Equal(tags.Contains(batch.Y[i]) ? 10f : plain.Mask[i], batch.Mask[i]);
        Assert.Contains(10f, batch.Mask);

        torch.manual_seed(3);
        using var model = new MiniMindForCausalLM(settings.Config);
        using var objective = StageObjective.For(settings);
        using var scope = NewDisposeScope();
        var loss = objective.Loss(model, batch, 1, CPU).item<float>();
        using var sftObjective = StageObjective.For(settings with { Stage = "sft" });
        var sftLoss = sftObjective.Loss(model, plain, 1, CPU).item<float>();

        // By hand from the per-token CE: Σ ce·w / Σ m, and the difference to plain SFT is Σ ce·(w − m) / Σ m.
        var x = torch.tensor(batch.X, dtype: ScalarType.Int64).view(batch.Rows, batch.SeqLen);
        var y = torch.tensor(batch.Y, dtype: ScalarType.Int64).view(-1);
        var ce = F.cross_entropy(model.call(x).logits.reshape(-1, settings.Config.VocabSize), y, reduction: nn.Reduction.None).to_type(ScalarType.Float64).data<double>().ToArray();
        var n = plain.Mask.Sum();
        var weighted = ce.Select((c, i) => c * batch.Mask[i]).Sum() / n;
        var extra = ce.Select((c, i) => c * (batch.Mask[i] - plain.Mask[i])).Sum() / n;
        Assert.True(Math.Abs(loss - weighted) < 1e-4, $"{loss} vs {weighted}");
        Assert.True(Math.Abs(loss - sftLoss - extra) < 1e-4, $"reason − sft = {loss - sftLoss}, formula {extra}");
        Assert.True(extra > 1, $"the tag weights should matter here: {extra}");
    }
}
