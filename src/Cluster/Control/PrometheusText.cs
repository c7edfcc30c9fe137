using System.Globalization;
using System.Text;

namespace MiniMind.Cluster.Control;

/// <summary>Writes the Prometheus text exposition format (version 0.0.4): a <c># HELP</c> and <c># TYPE</c> line per
/// family, then its samples, <c>name{label="value",…} number</c>. Label values are escaped (\\, \", \n); NaN and
/// infinities are written as Prometheus spells them.</summary>
public sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    readonly StringBuilder text = new();
    readonly HashSet<string> families = [];

    /// <summary>Starts a family (once per name; a second call with the same name is ignored).</summary>
    public PrometheusText Family(string name, string type, string help)
    {
        if (!families.Add(name)) return this;
        text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    public PrometheusText Sample(string name, double value, params (string Name, string Value)[] labels)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{');
            for (var i = 0; i < labels.Length; i++)
            {
                if (i > 0) text.Append(',');
                text.Append(labels[i].Name).Append("=\"").Append(Escape(labels[i].Value)).Append('"');
            }
            text.Append('}');
        }
        text.Append(' ').Append(Number(value)).Append('\n');
        return this;
    }

    public static string Escape(string v) =>
        v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string Number(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    public override string ToString() => text.ToString();
}
