using System.CommandLine;
using System.Globalization;
using MiniMind.Cluster.Metrics;

namespace MiniMind.Cli;

/// <summary><c>--alert-loss-spike K|off</c> and <c>--alert-stall M|off</c>: the alert rules of a node's metrics recorder
/// (issue 14), on <c>train</c> and <c>node seed</c>.</summary>
sealed class AlertOptions
{
    public Option<string> LossSpike { get; } = new("--alert-loss-spike")
    {
        Description = $"Alert when a step's loss exceeds K × its EMA (after {AlertRules.Default.SpikeWarmup} steps), or off. Default: {F(AlertRules.Default.SpikeFactor)}.",
        DefaultValueFactory = _ => F(AlertRules.Default.SpikeFactor),
    };

    public Option<string> Stall { get; } = new("--alert-stall")
    {
        Description = $"Alert when no step comes for M × the median step time (and at least {AlertRules.Default.StallFloor.TotalSeconds:0} s), or off. Default: {F(AlertRules.Default.StallFactor)}.",
        DefaultValueFactory = _ => F(AlertRules.Default.StallFactor),
    };

    public AlertOptions()
    {
        LossSpike.Validators.Add(r => Check(r, "--alert-loss-spike", 1));
        Stall.Validators.Add(r => Check(r, "--alert-stall", 1));
    }

    public IEnumerable<Option> All => [LossSpike, Stall];

    static string F(double v) => v.ToString(CultureInfo.InvariantCulture);

    static double? Parse(string text) =>
        text.Equals("off", StringComparison.OrdinalIgnoreCase) ? 0
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : null;

    static void Check(System.CommandLine.Parsing.OptionResult r, string flag, double above)
    {
        var text = r.GetValueOrDefault<string>();
        if (Parse(text) is not { } v || (v != 0 && v <= above))
            r.AddError($"{flag} {text}: expected a number above {F(above)}, or off");
    }

    public AlertRules Rules(ParseResult parse) => AlertRules.Default with
    {
        SpikeFactor = Parse(parse.GetValue(LossSpike)!) ?? AlertRules.Default.SpikeFactor,
        StallFactor = Parse(parse.GetValue(Stall)!) ?? AlertRules.Default.StallFactor,
    };

    /// <summary>Whether either was given (on a request sent to a seed they belong to the node).</summary>
    public bool Given(ParseResult parse) => parse.GetResult(LossSpike) is { Implicit: false } || parse.GetResult(Stall) is { Implicit: false };
}
