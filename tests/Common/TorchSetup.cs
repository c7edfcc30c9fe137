using TorchSharp;

namespace MiniMind.Tests.Common;

/// <summary>One intra-op thread per test process: the machine's 2 cores are shared by parallel test assemblies. Each
/// test project registers it with <c>[assembly: AssemblyFixture(typeof(TorchSetup))]</c>: an assembly fixture, not a
/// module initializer, because the initializer also runs (loading libtorch) when the xunit v3 runner only asks the test
/// process for its assembly info, and anything printed then breaks that exchange ("Test process did not return valid
/// JSON").</summary>
public sealed class TorchSetup
{
    public TorchSetup()
    {
        MiniMind.Model.Native.NativeStartup.Initialize();   // MKL vendor fix and malloc reuse, before libtorch loads
        torch.set_num_threads(1);
    }
}
