using System.Globalization;

namespace MiniMind.Bench;

/// <summary>A bad command line; Program prints it with the verb's usage and exits 2.</summary>
public sealed class BenchArgumentException : Exception
{
    public BenchArgumentException() { }

    public BenchArgumentException(string message) : base(message) { }

    public BenchArgumentException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>"--name value" options of one verb; every option must be consumed (unknown ones are errors).</summary>
public sealed class BenchArgs
{
    readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public BenchArgs(string[] args, params string[] known) : this(args, known, []) { }

    /// <param name="flags">options that take no value (their presence is the value).</param>
    public BenchArgs(string[] args, string[] known, string[] flags)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (flags.Contains(name)) { _flags.Add(name); continue; }
            if (!known.Contains(name)) throw new BenchArgumentException($"unknown option '{name}'");
            if (i + 1 >= args.Length) throw new BenchArgumentException($"option '{name}' needs a value");
            _values[name] = args[++i];
        }
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string Get(string name, string fallback) => String(name) ?? fallback;

    public string? String(string name) => _values.GetValueOrDefault(name);

    public string Required(string name) => String(name) ?? throw new BenchArgumentException($"option '{name}' is required");

    public double Double(string name, double fallback) => _values.TryGetValue(name, out var v)
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 ? d
            : throw new BenchArgumentException($"option '{name}' must be a positive number, got '{v}'")
        : fallback;

    public int Int(string name, int fallback) => _values.TryGetValue(name, out var v)
        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
            : throw new BenchArgumentException($"option '{name}' must be a positive integer, got '{v}'")
        : fallback;
}
