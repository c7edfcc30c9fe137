using TorchSharp;
using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Cluster.Tests.TorchSetup))]
// Test classes run one after another: several of them train in this process (GradientAggregation, FaultTolerance, the
// cluster tests' single-process reference, the ops routes), and torch's default generator is process-wide, so an
// overlapping run changed the RNG state another run saved in its checkpoint (bitwise comparisons then failed).
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MiniMind.Cluster.Tests;

/// <summary>One intra-op thread per test process (2-core CI). An assembly fixture, not a module initializer: the
/// initializer also ran (loading libtorch) when the xunit v3 runner only asked for the assembly info, and with ASP.NET
/// Core in the process that exchange then broke ("Test process did not return valid JSON").</summary>
public sealed class TorchSetup
{
    public TorchSetup()
    {
        MiniMind.Model.Native.NativeStartup.Initialize();   // MKL vendor fix and malloc reuse, before libtorch loads
        torch.set_num_threads(1);
    }
}
