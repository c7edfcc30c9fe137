using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>Process memory and matmul throughput, measured in the same run as the workload they qualify.</summary>
public static class Measure
{
    /// <summary>Peak resident set size of this process (VmHWM), in MB.</summary>
    public static double PeakRssMb() => ReadStatusKb("VmHWM:") / 1024.0;

    /// <summary>Current resident set size (VmRSS), in MB.</summary>
    public static double RssMb() => ReadStatusKb("VmRSS:") / 1024.0;

    static long ReadStatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>GFLOP/s of an n×n×n matmul in <paramref name="dtype"/>: the median of <paramref name="reps"/> timed runs after a warm-up.</summary>
    public static double MatmulGflops(ScalarType dtype, int n = 1024, int reps = 5)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(n, n).to(dtype);
        var b = torch.randn(n, n).to(dtype);
        a.matmul(b).Dispose();
        var times = new List<double>();
        for (var i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).Dispose();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return 2.0 * n * n * n / times[times.Count / 2] / 1e9;
    }

    /// <summary>GB/s of a float32 matrix-vector product over a 128 MB matrix (larger than the caches): what a batch-1
    /// decode step, which reads every weight once, can stream at best. Median of <paramref name="reps"/> runs.</summary>
    public static double StreamGBps(int reps = 7)
    {
        using var scope = torch.NewDisposeScope();
        var w = torch.randn(8192, 4096);
        var x = torch.randn(4096);
        w.mv(x).Dispose();
        var times = new List<double>();
        for (var i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            w.mv(x).Dispose();
            times.Add(sw.Elapsed.TotalSeconds);
        }
        times.Sort();
        return w.numel() * 4.0 / times[times.Count / 2] / 1e9;
    }

    /// <summary>Whether /proc/cpuinfo lists a native bf16 instruction set (AVX512_BF16 or AMX-BF16).</summary>
    public static bool CpuHasNativeBf16() =>
        File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo").Any(l =>
            l.StartsWith("flags", StringComparison.Ordinal) && (l.Contains(" avx512_bf16", StringComparison.Ordinal) || l.Contains(" amx_bf16", StringComparison.Ordinal)));

    /// <summary>This process's minor page faults so far (/proc/self/stat field 10).</summary>
    public static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }

    /// <summary>User and kernel CPU seconds of this process so far.</summary>
    public static (double User, double Sys) CpuSeconds()
    {
        using var p = Process.GetCurrentProcess();
        return (p.UserProcessorTime.TotalSeconds, p.PrivilegedProcessorTime.TotalSeconds);
    }

    /// <summary>The CPU's vendor and the flags that decide the kernels (avx2, avx512f, avx512_bf16, amx_bf16), for every
    /// figure printed.</summary>
    public static string CpuSummary() =>
        $"{MiniMind.Model.Native.MklVendorFix.CpuVendor()} {CpuModel()}, {Environment.ProcessorCount} cores, flags {CpuFlags(' ', "avx2", "avx512f", "avx512_bf16", "amx_bf16")}";

    /// <summary>/proc/cpuinfo's model name ("?" elsewhere).</summary>
    public static string CpuModel() =>
        File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?" : "?";

    /// <summary>Those of <paramref name="wanted"/> (default: the SIMD sets libtorch's and our kernels use) that
    /// /proc/cpuinfo lists, joined by <paramref name="separator"/> ("?" where there is no /proc/cpuinfo).</summary>
    public static string CpuFlags(char separator = ',', params string[] wanted)
    {
        var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) : null;
        if (line is null) return "?";
        var flags = line.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        string[] shown = wanted.Length > 0 ? wanted : ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16"];
        return string.Join(separator, shown.Where(flags.Contains));
    }

    /// <summary>The 1-minute load average (/proc/loadavg), to print next to every timing.</summary>
    public static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    public static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
