using TorchSharp;
using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Actors.Tests.TorchSetup))]

namespace MiniMind.Actors.Tests;

/// <summary>One intra-op thread per test process (the CI cores are shared). An assembly fixture, not a module
/// initializer, so listing the tests does not load libtorch.</summary>
public sealed class TorchSetup
{
    public TorchSetup()
    {
        MiniMind.Model.Native.NativeStartup.Initialize();   // MKL vendor fix and malloc reuse, before libtorch loads
        torch.set_num_threads(1);
    }
}
