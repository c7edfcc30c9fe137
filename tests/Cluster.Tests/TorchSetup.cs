using TorchSharp;
using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Cluster.Tests.TorchSetup))]

namespace MiniMind.Cluster.Tests;

/// <summary>One intra-op thread per test process (2-core CI). An assembly fixture, not a module initializer: the
/// initializer also ran (loading libtorch) when the xunit v3 runner only asked for the assembly info, and with ASP.NET
/// Core in the process that exchange then broke ("Test process did not return valid JSON").</summary>
public sealed class TorchSetup
{
    public TorchSetup() => torch.set_num_threads(1);
}
