using Xunit;

namespace MiniMind.Model.Tests.Training;

public class LearningRateTests
{
    [Fact]
    public void MiniMind_cosine_starts_at_1_1_lr_and_ends_at_0_1_lr()
    {
        Assert.Equal(5.5e-4, LearningRate.MiniMindCosine(0, 100, 5e-4), 12);
        Assert.Equal(3e-4, LearningRate.MiniMindCosine(50, 100, 5e-4), 12);
        Assert.Equal(5e-5, LearningRate.MiniMindCosine(100, 100, 5e-4), 12);
    }
}
