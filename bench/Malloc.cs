using System.Runtime.InteropServices;

namespace MiniMind.Bench;

/// <summary>glibc malloc tuning. libtorch's CPU allocator uses glibc; glibc's mmap threshold grows dynamically (up to
/// 32 MB) after large blocks are freed, so later activations come from the heap and fragment it: the peak RSS of a
/// B8×T512 step measured 3.3 GB with the default and 2.4 GB with a fixed 128 KB threshold (same as the environment
/// variable MALLOC_MMAP_THRESHOLD_), at the price of page faults on every large allocation.</summary>
internal static partial class Malloc
{
    const int M_MMAP_THRESHOLD = -3;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);

    /// <summary>Fixes the mmap threshold (which also disables its dynamic growth). Returns false if glibc refused.</summary>
    public static bool SetMmapThreshold(int bytes) => MallOpt(M_MMAP_THRESHOLD, bytes) == 1;
}
