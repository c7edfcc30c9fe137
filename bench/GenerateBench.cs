using System.Diagnostics;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// Greedy KV-cache decoding, batch 1:
///   generate --preset minimind2-small [--prompt-len 16] [--new-tokens 64] [--reps 5] [--threads N] [--no-pytorch]
/// tokens/s = new tokens / wall time of the whole call (prefill included), median over --reps.
/// Each rep runs the fast single-token path and the general forward (the path before it) back to back, so their
/// ratio is measured under the same load; then the PyTorch reference runs the same config and thread count.
/// The memory-bandwidth ceiling: the weights streamed per token over what a large fp32 mv achieves here.
/// </summary>
public static class GenerateBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--preset", "--prompt-len", "--new-tokens", "--reps", "--threads"], ["--no-pytorch"]);
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
        var fast = new GenerationOptions { MaxNewTokens = newTokens, Greedy = true, EosTokenId = null, UseCache = true };
        var general = fast with { FastDecode = false };

        var tokens = Generator.Generate(model, prompt, fast);                // warm-up, and the tokens must agree
        if (!tokens.SequenceEqual(Generator.Generate(model, prompt, general)))
            throw new InvalidOperationException("the fast decode path and the general forward chose different tokens");
        List<double> fastRates = [], generalRates = [];
        for (var r = 0; r < reps; r++)
        {
            fastRates.Add(Rate(model, prompt, fast));
            generalRates.Add(Rate(model, prompt, general));
        }
        double ours = Measure.Median(fastRates), before = Measure.Median(generalRates);
        var bandwidth = Measure.StreamGBps();
        var weightBytes = model.UniqueParameterCount() * 4.0;                 // fp32 weights read once per token
        var ceiling = bandwidth * 1e9 / weightBytes;
        Console.WriteLine($"preset {preset}: prompt {promptLen}, {tokens.Length} new tokens, KV cache, {threads} threads");
        Console.WriteLine($"  fast decode path  {ours,7:F1} tokens/s (median of {reps})");
        Console.WriteLine($"  general forward   {before,7:F1} tokens/s (interleaved with the above): {ours / before:F2}×");
        Console.WriteLine($"  fp32 mv streams {bandwidth:F1} GB/s; {weightBytes / 1e6:F0} MB of weights per token → ceiling ≈ {ceiling:F0} tokens/s");

        double? torchRate = null;
        if (!a.Flag("--no-pytorch"))
        {
            var py = PyTorchRef.Run("generate", config, threads, "--prompt-len", $"{promptLen}", "--new-tokens", $"{newTokens}", "--reps", $"{reps}");
            torchRate = py?.GetProperty("tokens_per_second").GetDouble();
            if (torchRate is { } t)
                Console.WriteLine($"  pytorch {py!.Value.GetProperty("torch").GetString()} (cat cache, full model per token) {t,7:F1} tokens/s: ours {ours / t:F2}×");
        }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "generate", preset, prompt_len = promptLen, new_tokens = tokens.Length, threads,
            tokens_per_second = Math.Round(ours, 1),
            ms_per_token = Math.Round(1000 / ours, 2),
            general_path_tokens_per_second = Math.Round(before, 1),
            ratio_vs_general_path = Math.Round(ours / before, 2),
            pytorch_tokens_per_second = torchRate,
            ratio_vs_pytorch = torchRate is { } r2 ? Math.Round(ours / r2, 2) : (double?)null,
            stream_gb_per_s = Math.Round(bandwidth, 1),
            bandwidth_ceiling_tokens_per_second = Math.Round(ceiling, 0),
            peak_rss_mb = Math.Round(Measure.PeakRssMb(), 0),
            load_average = Measure.LoadAverage(),
        }));
        return 0;
    }

    static double Rate(MiniMindForCausalLM model, long[] prompt, GenerationOptions options)
    {
        var sw = Stopwatch.StartNew();
        var n = Generator.Generate(model, prompt, options).Length;
        return n / sw.Elapsed.TotalSeconds;
    }
}
