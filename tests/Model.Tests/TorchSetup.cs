using System.Runtime.CompilerServices;
using TorchSharp;

namespace MiniMind.Model.Tests;

/// <summary>One intra-op thread for every test: the machine's 2 cores are shared (notes/torchsharp.md §0.4).</summary>
static class TorchSetup
{
#pragma warning disable CA2255 // a module initializer is exactly right for a test assembly's process-wide torch setting
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Init() => torch.set_num_threads(1);
}
