using System.Globalization;

namespace MiniMind.Bench;

/// <summary>"--name value" and "--flag" arguments of a bench verb.</summary>
public sealed class BenchArgs
{
    readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public BenchArgs(IEnumerable<string> args)
    {
        string? key = null;
        foreach (var a in args)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (key != null) _values[key] = null;
                key = a[2..];
            }
            else if (key != null) { _values[key] = a; key = null; }
            else throw new ArgumentException($"unexpected argument '{a}'");
        }
        if (key != null) _values[key] = null;
    }

    public string Get(string name, string fallback) => _values.TryGetValue(name, out var v) && v != null ? v : fallback;
    public int Int(string name, int fallback) => int.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
    public double Double(string name, double fallback) => double.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
    public bool Flag(string name) => _values.ContainsKey(name);
}
