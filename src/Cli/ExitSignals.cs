using System.Runtime.InteropServices;

namespace MiniMind.Cli;

/// <summary>The process's last moments. Once a command has returned its exit code, only the runtime's and libtorch's
/// exit remain (libtorch's static destructors deregister every operator: seconds on a loaded machine). A Ctrl+C or
/// SIGTERM arriving then would make the runtime kill the process with 130/143, turning a finished command (e.g. a
/// completed training run) into a failure; so both are ignored from that point on (SIGKILL still works).</summary>
internal static partial class ExitSignals
{
    const int SIGINT = 2, SIGTERM = 15;
    static readonly nint SIG_IGN = 1;

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    /// <summary>Call only from the real process's Main (never in-process, e.g. in tests), after the command has finished.</summary>
    public static void IgnoreFromNowOn()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        Signal(SIGINT, SIG_IGN);
        Signal(SIGTERM, SIG_IGN);
    }
}
