using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MiniMind.Bench;

/// <summary>Side-by-side A/B of a start-up setting: runs this bench verb as child processes with the setting's switch
/// on and off, alternating (on, off, on, off…) so that both see the same machine load, and prints one row per run and
/// the median of each. The switches are the environment variables the production code reads:
/// <c>mkl</c> = MINIMIND_MKL_VENDOR_FIX, <c>malloc</c> = MINIMIND_MALLOC_TUNING, <c>adamw</c> = MINIMIND_FUSED_ADAMW
/// (<see cref="MiniMind.Model.Training.AdamW.FusedSwitch"/>).</summary>
public static class AbRunner
{
    public static string SwitchOf(string setting) => setting switch
    {
        "mkl" => MiniMind.Model.Native.MklVendorFix.Switch,
        "malloc" => MiniMind.Model.Native.MallocTuning.Switch,
        "adamw" => MiniMind.Model.Training.AdamW.FusedSwitch,
        _ => throw new BenchArgumentException($"--ab {setting}: expected mkl, malloc or adamw"),
    };

    /// <summary>Runs <paramref name="childArgs"/> (a verb and its options, without --ab) <paramref name="rounds"/> times
    /// per side and returns the JSON summary line.</summary>
    public static int Run(string setting, IReadOnlyList<string> childArgs, int rounds, string[] columns)
    {
        var name = SwitchOf(setting);
        Console.WriteLine($"A/B {setting} ({name}=1 vs {name}=0), {rounds} round(s), alternating; cpu: {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var results = new Dictionary<string, List<JsonElement>> { ["on"] = [], ["off"] = [] };
        Console.WriteLine($"{"side",-4} {string.Join(" ", columns.Select(c => $"{c,14}"))} {"load",6}");
        for (var r = 0; r < rounds; r++)
        {
            foreach (var side in new[] { "on", "off" })
            {
                var json = RunChild(childArgs, name, side == "on" ? "1" : "0");
                results[side].Add(json);
                Console.WriteLine($"{side,-4} {string.Join(" ", columns.Select(c => $"{Show(json, c),14}"))} {Measure.LoadAverage(),6:F2}");
            }
        }
        var summary = new Dictionary<string, object?> { ["bench"] = "ab", ["setting"] = setting, ["switch"] = name, ["rounds"] = rounds, ["cpu"] = Measure.CpuSummary() };
        foreach (var c in columns)
        {
            var on = Median(results["on"], c);
            var off = Median(results["off"], c);
            summary[$"{c}_on"] = on;
            summary[$"{c}_off"] = off;
            if (on is { } a && off is { } b && b != 0)
                Console.WriteLine(FormattableString.Invariant($"median {c}: on {a:G5}, off {b:G5}, on/off {a / b:F2}×"));
        }
        summary["load_average"] = Measure.LoadAverage();
        Console.WriteLine(JsonSerializer.Serialize(summary));
        return 0;
    }

    static string Show(JsonElement json, string column) =>
        !json.TryGetProperty(column, out var v) ? "-"
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString("G6", CultureInfo.InvariantCulture)
        : v.ToString();

    static double? Median(List<JsonElement> runs, string column)
    {
        var values = runs.Where(j => j.TryGetProperty(column, out var v) && v.ValueKind == JsonValueKind.Number)
            .Select(j => j.GetProperty(column).GetDouble()).ToList();
        return values.Count == 0 ? null : Measure.Median(values);
    }

    static JsonElement RunChild(IReadOnlyList<string> args, string switchName, string value)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(AbRunner).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[switchName] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (p.StandardOutput.ReadLine() is { } line) lines.Add(line);
        p.WaitForExit();
        var last = lines.LastOrDefault(l => l.StartsWith('{'));
        if (p.ExitCode != 0 || last is null)
            throw new InvalidOperationException($"child bench ({switchName}={value}) failed with exit code {p.ExitCode}: {stderr.Result}{string.Join('\n', lines.TakeLast(5))}");
        return JsonDocument.Parse(last).RootElement.Clone();
    }
}
