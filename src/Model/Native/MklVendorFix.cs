using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MiniMind.Model.Native;

/// <summary>Makes the oneMKL inside libtorch_cpu.so take its AVX2/AVX-512 kernels on non-Intel x86 CPUs.
///
/// MKL picks its code path once, from <c>mkl_serv_cpu_detect</c>, which asks the exported vendor check
/// <c>mkl_serv_intel_cpu_true</c> first: on an AMD CPU that returns 0 and MKL runs its generic "Intel(R) Architecture
/// processors" kernels (fp32 GEMM at less than half the speed). libtorch calls that check through its PLT, so a library
/// already in the process's global symbol scope that defines the same symbol wins the lookup. Before libtorch loads,
/// we build that library in memory (<see cref="MklOverrideElf"/>: <c>int mkl_serv_intel_cpu_true(void) { return 1; }</c>),
/// put it in a memfd and <c>dlopen</c> it with RTLD_GLOBAL: no LD_PRELOAD, no C compiler, no file written anywhere.
/// MKL then checks the CPU's real features (AVX2, AVX-512) as on an Intel CPU.
///
/// Applied only on Linux x86-64, non-Intel vendor, with AVX2. Opt out with <c>MINIMIND_MKL_VENDOR_FIX=0</c>.</summary>
public static class MklVendorFix
{
    /// <summary>The environment switch: 0 (or false/off) keeps MKL's own vendor check.</summary>
    public const string Switch = "MINIMIND_MKL_VENDOR_FIX";
    public const string Symbol = "mkl_serv_intel_cpu_true";
    public const string Soname = "libminimind-mkl-vendor-fix.so";

    public enum State { NotApplied, Active, NotNeeded, Disabled, Failed }

    public sealed record Status(State State, string Detail);

    static readonly Lock gate = new();

    /// <summary>What <see cref="Apply"/> did in this process.</summary>
    public static Status Current { get; private set; } = new(State.NotApplied, "not applied (NativeStartup has not run)");

    /// <summary>The CPUID vendor string ("GenuineIntel", "AuthenticAMD", …), or "" off x86.</summary>
    public static string CpuVendor()
    {
        if (!X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        var bytes = new byte[12];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), ebx);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), edx);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), ecx);
        return Encoding.ASCII.GetString(bytes);
    }

    /// <summary>True when the switch's value turns the fix off.</summary>
    public static bool IsOptOut(string? value) =>
        value?.Trim().ToLowerInvariant() is "0" or "false" or "off" or "no";

    /// <summary>Loads the override when this machine needs it. Idempotent; must run before libtorch loads.</summary>
    public static Status Apply()
    {
        lock (gate)
        {
            if (Current.State == State.NotApplied) Current = Decide();
            return Current;
        }
    }

    static Status Decide()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return new(State.NotNeeded, "not x86-64 Linux");
        var vendor = CpuVendor();
        if (vendor == "GenuineIntel") return new(State.NotNeeded, "Intel CPU (MKL's fast path needs no fix)");
        if (!Avx2.IsSupported) return new(State.NotNeeded, $"{vendor} CPU without AVX2");
        if (IsOptOut(Environment.GetEnvironmentVariable(Switch)))
            return new(State.Disabled, $"off ({Switch}={Environment.GetEnvironmentVariable(Switch)}): MKL keeps its generic path on this {vendor} CPU");
        try
        {
            return Load(MklOverrideElf.Build(Symbol, Soname), vendor);
        }
        catch (Exception e)                                                   // a speed-up must never stop the program
        {
            return new(State.Failed, $"could not load the override: {e.Message}");
        }
    }

    static Status Load(byte[] image, string vendor)
    {
        var fd = Libc.MemfdCreate(Soname, Libc.MFD_CLOEXEC);
        if (fd < 0) return new(State.Failed, $"memfd_create failed (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            using (var handle = new SafeFileHandle(fd, ownsHandle: false))
                RandomAccess.Write(handle, image, 0);
            var lib = Libc.DlOpen($"/proc/self/fd/{fd}", Libc.RTLD_NOW | Libc.RTLD_GLOBAL);
            if (lib == 0) return new(State.Failed, $"dlopen of the override failed: {Libc.DlError()}");
        }
        finally
        {
            Libc.Close(fd);                                                   // the mapping keeps the memfd alive
        }
        return new(State.Active, $"on for this {vendor} CPU ({Switch}=0 turns it off)");
    }

    /// <summary>MKL's code path in the loaded libtorch (<c>mkl_serv_cpu_detect</c>: 0 generic, 3 SSE4.2, 5 AVX2,
    /// 7 AVX-512), or null when libtorch_cpu is not loaded yet or has no MKL. Asking fixes MKL's choice for the process.</summary>
    public static unsafe int? MklCodePath()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        var lib = Libc.DlOpen("libtorch_cpu.so", Libc.RTLD_NOW | Libc.RTLD_NOLOAD);
        if (lib == 0) return null;
        try
        {
            if (!NativeLibrary.TryGetExport(lib, "mkl_serv_cpu_detect", out var detect)) return null;
            return ((delegate* unmanaged<int>)detect)();
        }
        finally
        {
            NativeLibrary.Free(lib);                                          // drops only the reference RTLD_NOLOAD added
        }
    }

    public static string CodePathName(int level) => level switch
    {
        0 => "generic",
        3 => "SSE4.2",
        5 => "AVX2",
        7 => "AVX-512",
        _ => $"level {level}",
    };
}
