using Xunit;

namespace MiniMind.Model.Tests.Training;

/// <summary>
/// Production steps (forward, loss, backward, clip, AdamW) and greedy decoding while a background thread forces GCs
/// and finalizers without pause. Before every Scalar had an explicit lifetime, this run faulted within the first steps
/// ("Expected false to be true … toFloat at c10/core/Scalar.h", "Unknown scalar type"): a Scalar finalised while libtorch
/// read it. The test project runs with TieredCompilation off (csproj), so TorchSharp's methods are optimised from the
/// first call and an argument Scalar dies at its last use, as it does in a long run.
/// </summary>
// torch.manual_seed + a random init: a test drawing from libtorch's global generator at the same time (any model
// construction) would change the init between the two runs (seen: the first loss differed in a full-project run).
[Collection(nameof(GlobalRngCollection))]
public class GcStressTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Steps_under_forced_GCs_have_no_faults_and_are_bit_for_bit_the_run_without_pressure(bool moe)
    {
        const int steps = 100;
        var stressed = GcStress.Run(new GcStressOptions(steps, Pressure: true, Moe: moe));
        Assert.True(stressed.Faults == 0, $"{stressed.Faults} faults in {steps} steps:\n" + string.Join("\n", stressed.FaultMessages.Take(5)));
        Assert.True(stressed.ForcedCollections >= steps, $"only {stressed.ForcedCollections} forced GCs in {steps} steps");

        var reference = GcStress.Run(new GcStressOptions(steps, Pressure: false, Moe: moe));
        Assert.Equal(0, reference.Faults);
        Assert.Equal(reference.Losses.Select(BitConverter.SingleToInt32Bits), stressed.Losses.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(reference.Generated, stressed.Generated);
        Assert.Equal(reference.Digest, stressed.Digest);
        Assert.Equal(steps / 10 * 6, stressed.Generated.Count);                // every generation ran
        Assert.True(stressed.Losses[^1] < stressed.Losses[0], $"loss {stressed.Losses[0]} → {stressed.Losses[^1]}: no progress");
    }
}
