using TorchSharp;
using Xunit;

[assembly: AssemblyFixture(typeof(MiniMind.Model.Tests.TorchSetup))]

namespace MiniMind.Model.Tests;

/// <summary>One intra-op thread for every test: the machine's 2 cores are shared (notes/torchsharp.md §0.4).
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
