using TorchSharp;
using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Cli.Tests.TorchSetup))]

namespace MiniMind.Cli.Tests;

/// <summary>One intra-op thread per test process: the 2 CI cores are shared by parallel test assemblies.
/// An assembly fixture, not a module initializer: the initializer would also run (and load libtorch) when the xunit v3
/// runner only asks the test process for its assembly info, and anything printed then breaks that exchange.</summary>
public sealed class TorchSetup
{
    public TorchSetup()
    {
        MiniMind.Model.Native.NativeStartup.Initialize();   // MKL vendor fix and malloc reuse, before libtorch loads
        torch.set_num_threads(1);
    }
}
