using TorchSharp;

namespace MiniMind.Model;

/// <summary>Process-wide torch settings: threads and device selection. Never assumes a GPU.</summary>
public static class TorchRuntime
{
    /// <summary>Parses "cpu", "cuda" or "cuda:N". CUDA is only accepted when this build and machine have it.</summary>
    public static torch.Device ParseDevice(string spec)
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s == "cpu") return torch.CPU;
        if (s == "cuda" || s.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"--device {spec}: CUDA is not available (this build uses the '{BackendName}' TorchSharp backend, or no GPU is present). Use --device cpu, or build with -p:TorchBackend=cuda on a machine with a GPU.");
            var index = s == "cuda" ? 0 : int.Parse(s.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            var count = torch.cuda.device_count();
            if (index < 0 || index >= count)
                throw new ArgumentException($"--device {spec}: only {count} CUDA device(s) present.");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"--device {spec}: expected cpu, cuda or cuda:N.");
    }

    public static string BackendName => torch.cuda.is_available() ? "cuda" : "cpu";

    /// <summary>Sets intra-op threads for the calling thread and as the default for threads that touch torch later.
    /// Call at process start, before other threads use torch.</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) torch.set_num_threads(threads);
    }
}
