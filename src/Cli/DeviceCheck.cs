using System.Reflection;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Cli;

/// <summary>Checks a <c>--device</c> value at start-up, before anything runs on it: a CUDA device on a build or machine
/// without CUDA is a bad argument (exit 2, one line naming the flag), not a worker that fails and is retried.
/// Device-agnostic: on a CUDA build with the GPU present the same value passes.</summary>
static class DeviceCheck
{
    /// <summary>The TorchSharp backend this executable was built with (<c>-p:TorchBackend=cpu|cuda</c>).</summary>
    public static string Backend { get; } =
        typeof(DeviceCheck).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "cpu";

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="option"/> and the first device that cannot be used.</summary>
    public static void Validate(string devices, string option = "--device")
    {
        foreach (var d in DeviceList.Parse(devices))
        {
            if (d == "cpu") continue;
            if (!torch.cuda.is_available())
                throw new ArgumentException(Backend == "cuda"
                    ? $"{option} {d}: no CUDA device is available (no GPU or driver found); use --device cpu"
                    : $"{option} {d}: this build has no CUDA backend (TorchSharp-{Backend}); build with -p:TorchBackend=cuda or use --device cpu");
            var index = d == "cuda" ? 0 : int.Parse(d.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            if (index >= torch.cuda.device_count())
                throw new ArgumentException($"{option} {d}: only {torch.cuda.device_count()} CUDA device(s) present");
        }
    }
}
