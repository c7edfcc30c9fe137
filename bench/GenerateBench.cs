using System.Diagnostics;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// Greedy KV-cache decoding, batch 1:
///   generate --preset minimind2-small [--prompt-len 16] [--new-tokens 64] [--reps 5] [--threads N] [--dtype fp32,bf16,int8] [--no-pytorch]
/// tokens/s = new tokens / wall time of the whole call (prefill included), median over --reps.
/// Each rep runs, back to back, the fp32 fast single-token path, the fp32 general forward (the path before it) and each
/// requested packed dtype (bf16/int8 on our GEMV kernels), so their ratios are measured under the same load; then the
/// PyTorch reference runs the same config and thread count. The memory-bandwidth ceiling of a dtype: the bytes of weights
/// one token streams over what a large fp32 mv (libtorch) achieves here; our kernels' own GB/s per format are printed too.
/// Greedy agreement: how many of the dtype's tokens equal fp32's before the first difference.
/// </summary>
public static class GenerateBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--preset", "--prompt-len", "--new-tokens", "--reps", "--threads", "--dtype"], ["--no-pytorch"]);
        var preset = a.Get("--preset", "minimind2-small");
        int promptLen = a.Int("--prompt-len", 16), newTokens = a.Int("--new-tokens", 64), reps = a.Int("--reps", 5);
        var threads = a.Int("--threads", 2);
        var dtypes = a.Get("--dtype", "fp32").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => InferenceDTypes.Parse(d)).Where(d => d != InferenceDType.Fp32).Distinct().ToList();
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
        var packs = dtypes.ToDictionary(d => d, d => PackedModel.Pack(model, d.Format()));
        var agreed = new Dictionary<InferenceDType, int>();
        foreach (var (d, p) in packs)
        {
            model.Packed = p;
            var theirs = Generator.Generate(model, prompt, fast);            // warm-up
            agreed[d] = tokens.Zip(theirs, (x, y) => x == y).TakeWhile(same => same).Count();
            model.Packed = null;
        }
        List<double> fastRates = [], generalRates = [];
        var packedRates = dtypes.ToDictionary(d => d, _ => new List<double>());
        for (var r = 0; r < reps; r++)
        {
            fastRates.Add(Rate(model, prompt, fast));
            generalRates.Add(Rate(model, prompt, general));
            foreach (var (d, p) in packs)
            {
                model.Packed = p;
                packedRates[d].Add(Rate(model, prompt, fast));
                model.Packed = null;
            }
        }
        double ours = Measure.Median(fastRates), before = Measure.Median(generalRates);
        var bandwidth = Measure.StreamGBps();
        var kernelGBps = new[] { PackedFormat.Fp32, PackedFormat.Bf16, PackedFormat.Int8 }.ToDictionary(f => f, f => GemvGBps(f, threads));
        var weightBytes = model.UniqueParameterCount() * 4.0;                 // fp32 weights read once per token
        var ceiling = bandwidth * 1e9 / weightBytes;
        Console.WriteLine($"cpu: {Measure.CpuModel()}, {Environment.ProcessorCount} cores, flags {Measure.CpuFlags()}; our GEMV path {Gemv.Best}; load {Measure.LoadAverage()}");
        Console.WriteLine($"preset {preset}: prompt {promptLen}, {tokens.Length} new tokens, KV cache, {threads} threads");
        Console.WriteLine($"  fp32 fast decode path  {ours,7:F1} tokens/s (median of {reps}); ceiling ≈ {ceiling:F0} tokens/s ({weightBytes / 1e6:F0} MB per token)");
        Console.WriteLine($"  fp32 general forward   {before,7:F1} tokens/s (interleaved with the above): fast path {ours / before:F2}×");
        var rows = new List<object>();
        foreach (var (d, p) in packs)
        {
            var rate = Measure.Median(packedRates[d]);
            var c = bandwidth * 1e9 / p.StreamedBytes;
            Console.WriteLine($"  {d.Name()} packed (ours)     {rate,7:F1} tokens/s; ceiling ≈ {c:F0} tokens/s ({p.StreamedBytes / 1e6:F0} MB per token), " +
                              $"{rate / c:P0} of it; {rate / ours:F2}× fp32; greedy = fp32 for {agreed[d]}/{tokens.Length} tokens");
            rows.Add(new { dtype = d.Name(), tokens_per_second = Math.Round(rate, 1), ms_per_token = Math.Round(1000 / rate, 2),
                           bytes_per_token = p.StreamedBytes, bandwidth_ceiling_tokens_per_second = Math.Round(c, 0),
                           ratio_vs_fp32 = Math.Round(rate / ours, 2), greedy_tokens_equal_to_fp32 = agreed[d] });
        }
        Console.WriteLine($"  fp32 mv (libtorch) streams {bandwidth:F1} GB/s; our GEMV streams {kernelGBps[PackedFormat.Fp32]:F1} (fp32), " +
                          $"{kernelGBps[PackedFormat.Bf16]:F1} (bf16), {kernelGBps[PackedFormat.Int8]:F1} (int8) GB/s of weights");

        double? torchRate = null;
        if (!a.Flag("--no-pytorch"))
        {
            var py = PyTorchRef.Run("generate", config, threads, "--prompt-len", $"{promptLen}", "--new-tokens", $"{newTokens}", "--reps", $"{reps}");
            torchRate = py?.GetProperty("tokens_per_second").GetDouble();
            if (torchRate is { } t)
            {
                Console.WriteLine($"  pytorch {py!.Value.GetProperty("torch").GetString()} fp32 (cat cache, full model per token) {t,7:F1} tokens/s: ours fp32 {ours / t:F2}×" +
                                  string.Concat(packs.Keys.Select(d => $", {d.Name()} {Measure.Median(packedRates[d]) / t:F2}×")));
            }
        }
        foreach (var p in packs.Values) p.Dispose();
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "generate", preset, prompt_len = promptLen, new_tokens = tokens.Length, threads,
            tokens_per_second = Math.Round(ours, 1),
            ms_per_token = Math.Round(1000 / ours, 2),
            general_path_tokens_per_second = Math.Round(before, 1),
            ratio_vs_general_path = Math.Round(ours / before, 2),
            pytorch_tokens_per_second = torchRate,
            ratio_vs_pytorch = torchRate is { } r2 ? Math.Round(ours / r2, 2) : (double?)null,
            packed = rows,
            packed_ratio_vs_pytorch = torchRate is { } r3 ? packs.Keys.ToDictionary(d => d.Name(), d => Math.Round(Measure.Median(packedRates[d]) / r3, 2)) : null,
            stream_gb_per_s = Math.Round(bandwidth, 1),
            gemv_gb_per_s = kernelGBps.ToDictionary(k => k.Key.ToString().ToLowerInvariant(), k => Math.Round(k.Value, 1)),
            bandwidth_ceiling_tokens_per_second = Math.Round(ceiling, 0),
            cpu_flags = Measure.CpuFlags(),
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

    /// <summary>GB/s of weights our GEMV streams at batch 1 over an 8192×4096 matrix (larger than the caches), median of 7.</summary>
    static double GemvGBps(PackedFormat format, int threads)
    {
        const int rows = 8192, cols = 4096;
        var rng = new Random(1);
        var w = new float[rows * cols];
        for (var i = 0; i < w.Length; i++) w[i] = (float)rng.NextDouble() - 0.5f;
        using var m = PackedMatrix.Pack(w, rows, cols, format);
        var x = new float[cols];
        var y = new float[rows];
        Gemv.Multiply(m, x, 1, y, threads);
        var times = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            var sw = Stopwatch.StartNew();
            Gemv.Multiply(m, x, 1, y, threads);
            times.Add(sw.Elapsed.TotalSeconds);
        }
        return m.Bytes / Measure.Median(times) / 1e9;
    }
}
