using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tests.Parity;
using Xunit;

namespace MiniMind.Model.Tests.Training;

public class TrainStepTests
{
    [Fact]
    public void Optimizer_gets_the_unique_parameters_and_follows_the_learning_rate()
    {
        var set = new FixtureSet("dense_tiny");
        using var model = Fixture.Model(set);
        using var step = new TrainStep(model);
        Assert.Equal(model.OptimizerParameters().Count, step.Parameters.Count);
        Assert.Equal(20, step.Parameters.Count);                                // 21 state_dict keys, tied weight once

        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        step.SetLearningRate(0.0);
        var result = step.Run(set.Tensor("input_ids"), set.Tensor("labels"), set.Tensor("loss_mask"));
        Assert.Equal(set.Scalar("train_loss"), result.Loss, 5);
        Assert.All(model.state_dict(), kv => Assert.True(kv.Value.equal(before[kv.Key]).all().item<bool>(), kv.Key));
    }
}
