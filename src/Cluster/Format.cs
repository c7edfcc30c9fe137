using System.Globalization;

namespace MiniMind.Cluster;

/// <summary>Numbers as a person reads them, the same rules as the dashboard's formatting (dashboard.js): counts and rates
/// with thousands separators (4,612), small values like a learning rate in scientific notation (4.27e-4), durations as
/// h:mm:ss (m:ss under an hour, seconds with a decimal under a minute).</summary>
public static class Format
{
    public static string Number(double v)
    {
        if (double.IsNaN(v)) return "NaN";
        if (double.IsInfinity(v)) return v > 0 ? "∞" : "-∞";
        var a = Math.Abs(v);
        if (a == 0) return "0";
        if (a < 1e-3) return v.ToString("0.##e+0", CultureInfo.InvariantCulture).Replace("e+", "e", StringComparison.Ordinal);
        if (a >= 1000) return v.ToString("#,0", CultureInfo.InvariantCulture);
        if (a >= 100) return v.ToString("0.#", CultureInfo.InvariantCulture);
        return v.ToString("0.####", CultureInfo.InvariantCulture);
    }

    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return "-";
        if (seconds < 60) return seconds.ToString(seconds < 10 ? "0.##" : "0.#", CultureInfo.InvariantCulture) + " s";
        var t = (long)Math.Round(seconds);
        var (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
        return h > 0 ? FormattableString.Invariant($"{h}:{m:00}:{s:00}") : FormattableString.Invariant($"{m}:{s:00}");
    }
}
