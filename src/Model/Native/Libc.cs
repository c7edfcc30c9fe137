using System.Runtime.InteropServices;

namespace MiniMind.Model.Native;

/// <summary>The few glibc calls the start-up settings need (Linux only; callers check the OS first).</summary>
internal static partial class Libc
{
    public const int RTLD_NOW = 0x2, RTLD_NOLOAD = 0x4, RTLD_GLOBAL = 0x100;
    public const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;
    public const uint MFD_CLOEXEC = 1;

    /// <summary>dlopen from libc itself (glibc ≥ 2.34 has it there; older ones only in libdl, tried second).</summary>
    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpenLibc(string? file, int mode);

    [LibraryImport("libdl.so.2", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpenLibdl(string? file, int mode);

    [LibraryImport("libc", EntryPoint = "dlerror")]
    private static partial nint DlErrorLibc();

    [LibraryImport("libdl.so.2", EntryPoint = "dlerror")]
    private static partial nint DlErrorLibdl();

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    public static partial int MallOpt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    public static partial int MallocTrim(nuint pad);

    static bool useLibdl;

    public static nint DlOpen(string? file, int mode)
    {
        if (!useLibdl)
        {
            try { return DlOpenLibc(file, mode); }
            catch (EntryPointNotFoundException) { useLibdl = true; }
        }
        return DlOpenLibdl(file, mode);
    }

    public static string DlError()
    {
        var p = useLibdl ? DlErrorLibdl() : DlErrorLibc();
        return p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "";
    }
}
