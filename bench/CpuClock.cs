using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MiniMind.Bench;

/// <summary>CPU time of the calling thread (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>) and of the whole process.
/// On a shared machine CPU time is the comparable figure; wall time also counts time spent descheduled.</summary>
internal static partial class CpuClock
{
    const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out Timespec time);

    /// <summary>Seconds of CPU the calling thread has used.</summary>
    public static double ThreadSeconds() =>
        ClockGetTime(ClockThreadCpuTimeId, out var t) == 0
            ? t.Seconds + t.Nanoseconds * 1e-9
            : throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");

    /// <summary>Seconds of CPU all threads of this process have used.</summary>
    public static double ProcessSeconds()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }
}
