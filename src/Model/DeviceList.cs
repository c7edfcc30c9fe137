namespace MiniMind.Model;

/// <summary>
/// A <c>--device</c> value: one device, or several separated by commas, one model replica each (<c>cuda:0,cuda:1</c>;
/// <c>cpu</c> may repeat, a GPU may not). Checks the spelling only; <see cref="TorchRuntime.ParseDevice"/> checks that a
/// device exists when a replica is built on it.
/// </summary>
public static class DeviceList
{
    /// <summary>The entries, trimmed and lower-cased, in order. Throws <see cref="ArgumentException"/> naming <c>--device</c> and the
    /// bad entry.</summary>
    public static string[] Parse(string spec)
    {
        var devices = spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => d.ToLowerInvariant()).ToArray();
        if (devices.Length == 0) throw new ArgumentException($"--device '{spec}': no device; expected cpu or cuda:N, or several separated by commas (cuda:0,cuda:1)");
        foreach (var d in devices)
            if (!IsDevice(d))
                throw new ArgumentException($"--device {spec}: '{d}' is not a device; expected cpu or cuda:N, or several separated by commas (cuda:0,cuda:1)");
        var gpus = devices.Where(d => d != "cpu").Select(d => d == "cuda" ? "cuda:0" : d).ToArray();
        if (gpus.Length != gpus.Distinct(StringComparer.Ordinal).Count())
            throw new ArgumentException($"--device {spec}: a GPU is listed twice");
        return devices;
    }

    /// <summary>The list in its canonical spelling (trimmed, comma-separated, no empty entries).</summary>
    public static string Normalize(string spec) => string.Join(',', Parse(spec));

    static bool IsDevice(string d) =>
        d is "cpu" or "cuda"
        || (d.StartsWith("cuda:", StringComparison.Ordinal) && d.Length > 5 && d.AsSpan(5).IndexOfAnyExceptInRange('0', '9') < 0);
}
