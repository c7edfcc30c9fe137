using MiniMind.Actors.Stages;
using MiniMind.Model;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Actors.Tests.Stages;

public class DpoObjectiveTests(ITestOutputHelper output)
{
    const string Set = "dpo_dense_tiny";
    static readonly FixtureSet Fixture = new(Set);

    static TrainingSettings Settings(string? sha = null) => new()
    {
        Stage = "dpo",
        ConfigJson = MiniMindConfig.Load(RepoPaths.Preset("tiny")).ToJson(),   // the fixture's dense_tiny shapes
        InitFrom = RepoPaths.ModelFixture("dense_tiny", "dense_tiny.safetensors"),
        FrozenModelPath = RepoPaths.ModelFixture(Set, "dpo_ref.safetensors"),
        FrozenModelSha256 = sha ?? StageObjective.Sha256(RepoPaths.ModelFixture(Set, "dpo_ref.safetensors")),
    };

    /// <summary>The fixture's pairs as the data loader serves them: one row per pair, chosen then rejected side by side.</summary>
    static DataLoader.MicroBatch FixtureBatch()
    {
        int[] Rows(string chosen, string rejected)
        {
            var c = Fixture.Ints(chosen);
            var r = Fixture.Ints(rejected);
            return [.. c[..16], .. r[..16], .. c[16..], .. r[16..]];                      // 2 pairs × (16 + 16)
        }
        return new DataLoader.MicroBatch(2, 32, Rows("x_chosen", "x_rejected"), Rows("y_chosen", "y_rejected"),
            Rows("mask_chosen", "mask_rejected").Select(v => (float)v).ToArray(), [0, 1]);
    }

    [Fact]
    public void Dpo_objective_loss_on_the_fixture_pairs_equals_train_dpo_and_is_divided_by_the_accumulation_count()
    {
        using var objective = StageObjective.For(Settings());
        using var policy = objective.BuildModel(CPU, fresh: true);
        policy.train();
        var batch = FixtureBatch();
        using var loss = objective.Loss(policy, batch, 1, CPU);
        var expected = Fixture.Scalar("dpo_loss");
        output.WriteLine($"dpo loss {loss.item<float>():R}, train_dpo.py {expected:R}");
        Assert.True(Math.Abs(loss.item<float>() - expected) <= 1e-5, $"{loss.item<float>()} vs {expected}");

        using var quarter = objective.Loss(policy, batch, 4, CPU);
        Assert.Equal(loss.item<float>() / 4, quarter.item<float>(), 6);

        // Only the policy gets gradients; the reference is frozen.
        loss.backward();
        Assert.All(objective.TrainableParameters(policy), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void Split_turns_pair_rows_into_chosen_rows_then_rejected_rows()
    {
        using var pairs = torch.tensor(new long[] { 1, 2, 10, 20, 3, 4, 30, 40 }).view(2, 4);     // (B=2, 2T=4)
        using var split = DpoObjective.Split(pairs);
        Assert.Equal(new long[] { 4, 2 }, split.shape);
        Assert.Equal(new long[] { 1, 2, 3, 4, 10, 20, 30, 40 }, split.data<long>().ToArray());
    }

    [Fact]
    public void A_reference_file_that_changed_since_the_run_started_is_refused()
    {
        using var objective = StageObjective.For(Settings(sha: new string('0', 64)));
        var e = Assert.Throws<InvalidDataException>(() => objective.BuildModel(CPU, fresh: true).Dispose());
        Assert.Contains("dpo_ref.safetensors changed since this dpo run started", e.Message);
    }
}
