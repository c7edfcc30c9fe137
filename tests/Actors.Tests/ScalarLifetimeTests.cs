using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>The stage objectives (SFT, LoRA, DPO, reason, distillation losses) and the workers make no implicit
/// TorchSharp Scalar either: each would be a native Scalar the GC may finalise mid-call (<see cref="ImplicitScalarScan"/>).</summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void MiniMind_Actors_makes_no_implicit_Scalar_on_any_path()
    {
        var sites = ImplicitScalarScan.Sites(typeof(GpuWorker).Assembly);
        Assert.True(sites.Count == 0, $"{sites.Count} implicit Scalar(s):\n" + string.Join("\n", sites));
    }
}
