using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MiniMind.Model.Native;

/// <summary>Process-wide native settings that must be in place before libtorch loads: the MKL vendor fix
/// (<see cref="MklVendorFix"/>) and glibc's malloc reuse (<see cref="MallocTuning"/>).
///
/// They run from this assembly's module initializer, i.e. before any MiniMind.Model type is used, and every entry point
/// (minimind, the bench, the test fixtures) also calls <see cref="Initialize"/> first thing, before anything touches
/// TorchSharp. Silent: nothing is printed here (an xunit v3 runner talks to the test process over stdout).</summary>
public static class NativeStartup
{
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "The MKL override must be loaded before libtorch is, whichever entry point uses this library first.")]
    internal static void OnModuleLoad() => Initialize();

    /// <summary>Applies both settings once per process (later calls return at once).</summary>
    public static void Initialize()
    {
        MklVendorFix.Apply();
        MallocTuning.Apply();
    }

    /// <summary>One line for a command header: MKL's code path (loading libtorch if needed) and the malloc setting.</summary>
    public static string Describe()
    {
        _ = TorchSharp.torch.get_num_threads();                               // libtorch (and MKL with it) loaded
        var mkl = MklVendorFix.Current;
        var path = MklVendorFix.MklCodePath() is { } level ? $"MKL {MklVendorFix.CodePathName(level)} path" : "no MKL";
        var fix = mkl.State switch
        {
            MklVendorFix.State.Active => $"vendor fix {mkl.Detail}",
            MklVendorFix.State.Disabled => $"vendor fix {mkl.Detail}",
            MklVendorFix.State.Failed => $"vendor fix failed: {mkl.Detail}",
            _ => $"no vendor fix: {mkl.Detail}",
        };
        return $"{path}, {fix}; malloc {MallocTuning.Current.Detail}; fused AdamW {(Training.AdamW.FusedByDefault ? "on" : $"off ({Training.AdamW.FusedSwitch})")}";
    }
}
