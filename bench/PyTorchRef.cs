using System.Diagnostics;
using System.Text.Json;
using MiniMind.Model;

namespace MiniMind.Bench;

/// <summary>Runs our PyTorch reference (bench/pytorch/minimind_ref.py) with Debian's /usr/bin/python3 (torch 1.13)
/// on the same config, so that every figure comes with a same-machine, same-moment PyTorch figure.</summary>
public static class PyTorchRef
{
    public const string Python = "/usr/bin/python3";

    /// <summary>The BLAS library the reference's last run multiplied on (from its JSON line), for the figures' headers.</summary>
    public static string? Blas { get; private set; }

    /// <summary>Runs a verb of the script and returns its JSON line, or null (with a note on stderr) when it cannot run.</summary>
    public static JsonElement? Run(string verb, MiniMindConfig config, int threads, params string[] extra)
    {
        if (config.UseMoe)
        {
            Console.Error.WriteLine("pytorch reference: MoE is not implemented there; skipped");
            return null;
        }
        var script = FindScript();
        if (script is null || !File.Exists(Python))
        {
            Console.Error.WriteLine($"pytorch reference: {(script is null ? "bench/pytorch/minimind_ref.py not found" : Python + " missing")}; skipped");
            return null;
        }
        var configPath = Path.Combine(Path.GetTempPath(), $"minimind-bench-{Environment.ProcessId}.json");
        File.WriteAllText(configPath, (config with { IntermediateSize = config.FfnSize }).ToJson());
        try
        {
            var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { script, verb, "--config", configPath, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(extra))
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"pytorch reference failed ({p.ExitCode}): {stderr.Result}");
                return null;
            }
            var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            var json = JsonDocument.Parse(line).RootElement.Clone();
            if (json.TryGetProperty("blas", out var blas) && blas.ValueKind == JsonValueKind.Array)
                Blas = string.Join(", ", blas.EnumerateArray().Select(b => b.GetString()));
            return json;
        }
        finally
        {
            File.Delete(configPath);
        }
    }

    static string? FindScript()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bench", "pytorch", "minimind_ref.py");
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }
}
