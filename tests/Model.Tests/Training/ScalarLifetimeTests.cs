using TorchSharp;
using Xunit;

namespace MiniMind.Model.Tests.Training;

/// <summary>
/// No implicit <see cref="Scalar"/> anywhere in MiniMind.Model. An implicit conversion (a number where TorchSharp takes a
/// Scalar: <c>t * 2.0</c>, <c>t.pow(2)</c>, <c>t.eq(1)</c>) or a TorchSharp overload that makes one inside
/// (<c>a + b</c> is <c>add(b, 1)</c>) allocates a native Scalar that nothing references during the native call, so the
/// GC may finalise it mid-call (dotnet/TorchSharp#1434, #1496). The scan reads the IL of every method of our assembly
/// and of the TorchSharp methods it calls (transitively inside TorchSharp), and names each call site that does so
/// (<see cref="ImplicitScalarScan"/>).
/// </summary>
public class ScalarLifetimeTests
{
    [Fact]
    public void MiniMind_Model_makes_no_implicit_Scalar_on_any_path()
    {
        var sites = ImplicitScalarScan.Sites(typeof(MiniMindForCausalLM).Assembly);
        Assert.True(sites.Count == 0, $"{sites.Count} implicit Scalar(s):\n" + string.Join("\n", sites));
    }

    [Fact]
    public void The_scan_finds_the_implicit_Scalars_it_is_meant_to_find()
    {
        // This test class's own helpers below make them on purpose: the scan must name all three.
        var sites = ImplicitScalarScan.Sites(typeof(ScalarLifetimeTests).Assembly)
            .Where(s => s.Contains(nameof(Offenders), StringComparison.Ordinal)).ToList();
        Assert.Contains(sites, s => s.Contains(nameof(Offenders.Literal), StringComparison.Ordinal));
        Assert.Contains(sites, s => s.Contains(nameof(Offenders.TensorPlusTensor), StringComparison.Ordinal));
        Assert.Contains(sites, s => s.Contains(nameof(Offenders.AdamWStep), StringComparison.Ordinal));
        Assert.DoesNotContain(sites, s => s.Contains(nameof(Offenders.Explicit), StringComparison.Ordinal));
    }

    static class Offenders
    {
        public static torch.Tensor Literal(torch.Tensor t) => t * 2.0;
        public static torch.Tensor TensorPlusTensor(torch.Tensor a, torch.Tensor b) => a + b;
        public static void AdamWStep(TorchSharp.Modules.AdamW adam) => adam.step();
        public static torch.Tensor Explicit(torch.Tensor a, torch.Tensor b) => a.add(b, Scalars.One).mul(Scalars.Two);
    }
}
