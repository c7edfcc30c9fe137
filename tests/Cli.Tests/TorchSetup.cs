using System.Runtime.CompilerServices;
using TorchSharp;

namespace MiniMind.Cli.Tests;

/// <summary>One intra-op thread per test process: the 2 CI cores are shared by parallel test assemblies.</summary>
static class TorchSetup
{
#pragma warning disable CA2255 // a module initializer is the right place for a test assembly's process-wide torch setting
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Init() => torch.set_num_threads(1);
}
