using System.Diagnostics;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// Greedy KV-cache decoding, batch 1:
///   generate --preset minimind2-small [--prompt-len 16] [--new-tokens 64] [--reps 5] [--threads N]
/// tokens/s = new tokens / wall time of the whole call (prefill included), median over --reps.
/// </summary>
public static class GenerateBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--preset", "--prompt-len", "--new-tokens", "--reps", "--threads");
        var preset = a.Get("--preset", "minimind2-small");
        int promptLen = a.Int("--prompt-len", 16), newTokens = a.Int("--new-tokens", 64), reps = a.Int("--reps", 5);
        var threads = a.Int("--threads", 2);
        torch.set_num_threads(threads);
        var config = MiniMindConfig.Load(preset);
        torch.manual_seed(1234);
        using var model = new MiniMindForCausalLM(config);
        model.eval();
        var rng = new Random(7);
        var prompt = Enumerable.Range(0, promptLen).Select(_ => (long)rng.Next(3, config.VocabSize)).ToArray();
        var options = new GenerationOptions { MaxNewTokens = newTokens, Greedy = true, EosTokenId = null, UseCache = true };

        Generator.Generate(model, prompt, options); // warm-up
        var rates = new List<double>();
        long[] tokens = [];
        for (var r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            tokens = Generator.Generate(model, prompt, options);
            rates.Add(tokens.Length / sw.Elapsed.TotalSeconds);
        }
        var median = Measure.Median(rates);
        Console.WriteLine($"preset {preset}: prompt {promptLen}, {tokens.Length} new tokens, KV cache, {threads} threads: {median:F0} tokens/s (median of {reps})");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "generate", preset, prompt_len = promptLen, new_tokens = tokens.Length, threads,
            tokens_per_second = Math.Round(median, 1),
            ms_per_token = Math.Round(1000 / median, 2),
            peak_rss_mb = Math.Round(Measure.PeakRssMb(), 0),
        }));
        return 0;
    }
}
