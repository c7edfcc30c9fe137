using System.Diagnostics;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>
/// MiniMind's pretrain step (forward, masked CE + aux, backward, clip 1.0, AdamW wd 0.01) timed on a preset:
///   train --preset minimind2-small --batch 4 --seq-len 256 --steps 10 [--precision fp32|bf16] [--threads N] [--compare] [--no-pytorch] [--mmap-threshold BYTES] [--ab mkl|malloc|adamw [--rounds 2]]
///   train --pipeline [--preset …] [--batch …] [--seq-len …] [--steps N] [--precision fp32|bf16] [--threads N] [--rounds 2] [--no-pytorch] [--cli minimind.dll]
/// --pipeline runs the production path instead of the bare step: <c>minimind train pretrain</c> as a child process
/// (<see cref="PipelineRun"/>; N + 1 steps, the summary line's tokens_per_second leaves the warm-up step out), alternating
/// with the PyTorch reference round by round, and reports the ratio of the medians, peak RSS of both, CPU flags and load.
/// --mmap-threshold fixes glibc's mmap threshold (overrides the start-up malloc reuse for that setting; see Malloc).
/// --ab runs the same command as child processes with a start-up setting on and off, alternating (AbRunner).
/// then the PyTorch reference (bench/pytorch/minimind_ref.py, fp32) runs the same config, batch and threads.
/// --compare also trains the fp32 twin from the same init and data and reports the loss gap after --steps.
/// </summary>
public static class TrainBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--preset", "--batch", "--seq-len", "--steps", "--warmup", "--precision", "--threads", "--mmap-threshold", "--ab", "--rounds", "--cli"], ["--compare", "--no-pytorch", "--pipeline"]);
        if (a.Flag("--pipeline")) return Pipeline(a);
        if (a.String("--ab") is { } setting)
        {
            var rest = new List<string> { "train" };
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] is "--ab" or "--rounds") { i++; continue; }
                if (args[i] is "--no-pytorch") continue;
                rest.Add(args[i]);
            }
            rest.Add("--no-pytorch");
            return AbRunner.Run(setting, rest, a.Int("--rounds", 2),
                ["tokens_per_second", "ms_per_step", "optimizer_ms_per_step", "matmul_gflops_fp32", "mkl_code_path", "sys_s_per_step", "faults_per_step", "peak_rss_mb", "loss_last"]);
        }
        var preset = a.Get("--preset", "minimind2-small");
        int batch = a.Int("--batch", 4), seqLen = a.Int("--seq-len", 256), steps = a.Int("--steps", 10), warmup = a.Int("--warmup", 2);
        var precision = a.Get("--precision", "fp32");
        var threads = a.Int("--threads", 2);
        torch.set_num_threads(threads);
        int? mmapThreshold = a.String("--mmap-threshold") is null ? null : a.Int("--mmap-threshold", 131072);
        if (mmapThreshold is { } m && !Malloc.SetMmapThreshold(m))
            throw new BenchArgumentException($"--mmap-threshold {m}: glibc mallopt refused it");

        var config = MiniMindConfig.Load(preset);
        var dtype = ParsePrecision(precision);
        var fp32Peak = Measure.MatmulGflops(ScalarType.Float32);
        var bf16Peak = Measure.MatmulGflops(ScalarType.BFloat16);
        Console.WriteLine($"preset {preset}: h{config.HiddenSize} L{config.NumHiddenLayers} moe={config.UseMoe}; B{batch}×T{seqLen}, {steps} steps (+{warmup} warm-up), {precision}, {threads} threads");
        Console.WriteLine($"matmul 1024³: fp32 {fp32Peak:F0} GFLOP/s, bf16 {bf16Peak:F0} GFLOP/s");
        Console.WriteLine($"cpu: {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}");
        Console.WriteLine($"runtime: {MiniMind.Model.Native.NativeStartup.Describe()}");

        var run = Train(config, dtype, batch, seqLen, steps, warmup);
        var flopsPerToken = TrainingFlopsPerToken(config, seqLen);
        var tokensPerSecond = batch * seqLen / (run.MedianMs / 1000);
        var achieved = tokensPerSecond * flopsPerToken / 1e9;
        var peak = dtype == ScalarType.BFloat16 ? bf16Peak : fp32Peak;
        Console.WriteLine($"median {run.MedianMs:F0} ms/step, {tokensPerSecond:F0} tokens/s, {achieved:F0} GFLOP/s model = {achieved / peak:P0} of the measured {precision} matmul peak; loss {run.Losses[0]:F4} → {run.Losses[^1]:F4}");
        Console.WriteLine($"per timed step: user {run.UserSecondsPerStep:F3} s, sys {run.SysSecondsPerStep:F3} s, {run.FaultsPerStep:F0} minor page faults; peak RSS {Measure.PeakRssMb():F0} MB");

        var nativeBf16 = Measure.CpuHasNativeBf16();
        if (dtype == ScalarType.BFloat16 && !nativeBf16)
            Console.WriteLine($"note: this CPU has no native bf16 (no avx512_bf16/amx_bf16): a bf16 matmul runs at {bf16Peak:F0} vs fp32 {fp32Peak:F0} GFLOP/s; use fp32 here");

        double? torchRate = null;
        if (!a.Flag("--no-pytorch"))
        {
            var py = PyTorchRef.Run("train", config, threads, "--batch", $"{batch}", "--seq-len", $"{seqLen}", "--steps", $"{steps}", "--warmup", $"{warmup}");
            torchRate = py?.GetProperty("tokens_per_second").GetDouble();
            if (torchRate is { } t)
                Console.WriteLine($"pytorch {py!.Value.GetProperty("torch").GetString()} fp32 (explicit attention): {py.Value.GetProperty("ms_per_step").GetDouble():F0} ms/step, {t:F0} tokens/s; loss {py.Value.GetProperty("loss_first").GetDouble():F4} → {py.Value.GetProperty("loss_last").GetDouble():F4}; ours {tokensPerSecond / t:F2}×");
        }

        double? fp32Loss = null;
        double? maxGapAfter20 = null;
        if (a.Flag("--compare") && dtype != ScalarType.Float32)
        {
            var twin = Train(config, ScalarType.Float32, batch, seqLen, steps, warmup);
            fp32Loss = twin.Losses[^1];
            Console.WriteLine($"fp32 twin: median {twin.MedianMs:F0} ms/step; loss after {steps + warmup} steps {precision} {run.Losses[^1]:F6} vs fp32 {fp32Loss:F6} (|Δ| = {Math.Abs(run.Losses[^1] - fp32Loss.Value):E2}); speed ratio {twin.MedianMs / run.MedianMs:F2}×");
            // The loss curves step by step: the largest relative gap after step 20 (the issue's accuracy criterion: ≤ 1 %).
            var gaps = run.Losses.Zip(twin.Losses, (b, f) => Math.Abs(b - f) / Math.Abs(f)).ToArray();
            for (var i = 0; i < gaps.Length; i += Math.Max(1, gaps.Length / 10))
                Console.WriteLine(FormattableString.Invariant($"  step {i + 1,4}: {precision} {run.Losses[i]:F4}  fp32 {twin.Losses[i]:F4}  gap {gaps[i]:P2}"));
            maxGapAfter20 = gaps.Length > 20 ? gaps.Skip(20).Max() : null;
            if (maxGapAfter20 is { } g) Console.WriteLine($"largest relative loss gap after step 20: {g:P2} (target ≤ 1 %)");
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "train", preset, batch, seq_len = seqLen, steps, precision, threads,
            tokens_per_second = Math.Round(tokensPerSecond, 1),
            ms_per_step = Math.Round(run.MedianMs, 1),
            peak_rss_mb = Math.Round(Measure.PeakRssMb(), 0),
            mfu = Math.Round(achieved / peak, 4),
            matmul_gflops_fp32 = Math.Round(fp32Peak, 1),
            matmul_gflops_bf16 = Math.Round(bf16Peak, 1),
            model_gflops = Math.Round(achieved, 1),
            loss_first = run.Losses[0],
            loss_last = run.Losses[^1],
            fp32_loss_last = fp32Loss,
            max_loss_gap_after_step_20 = maxGapAfter20,
            cpu_native_bf16 = nativeBf16,
            malloc_mmap_threshold = mmapThreshold,
            pytorch_tokens_per_second = torchRate,
            ratio_vs_pytorch = torchRate is { } r ? Math.Round(tokensPerSecond / r, 2) : (double?)null,
            user_s_per_step = Math.Round(run.UserSecondsPerStep, 4),
            sys_s_per_step = Math.Round(run.SysSecondsPerStep, 4),
            faults_per_step = Math.Round(run.FaultsPerStep, 0),
            fused_adamw = MiniMind.Model.Training.AdamW.FusedByDefault,
            optimizer_ms_per_step = Math.Round(run.OptimizerMs, 1),
            mkl_code_path = MiniMind.Model.Native.MklVendorFix.MklCodePath(),
            mkl_vendor_fix = MiniMind.Model.Native.MklVendorFix.Current.State.ToString(),
            malloc_tuning = MiniMind.Model.Native.MallocTuning.Current.State.ToString(),
            cpu = Measure.CpuSummary(),
            load_average = Measure.LoadAverage(),
        }));
        return 0;
    }

    /// <summary>The production path against the PyTorch reference, alternating round by round (see the class comment).</summary>
    static int Pipeline(BenchArgs a)
    {
        var preset = a.Get("--preset", "minimind2-small");
        int batch = a.Int("--batch", 4), seqLen = a.Int("--seq-len", 256), steps = a.Int("--steps", 6), threads = a.Int("--threads", 2), rounds = a.Int("--rounds", 1);
        var precision = a.Get("--precision", "fp32");
        ParsePrecision(precision);
        var cli = PipelineRun.FindCli(a.String("--cli"));
        var config = MiniMindConfig.Load(preset);
        Console.WriteLine($"pipeline: minimind train pretrain --config {preset}, B{batch}×T{seqLen}, {steps} steps (+1 warm-up), --dtype {precision}, {threads} threads; {rounds} round(s) alternating with PyTorch fp32");
        Console.WriteLine($"cpu: {Measure.CpuSummary()}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var ours = new List<PipelineRun.Result>();
        var torchRuns = new List<JsonElement>();
        for (var r = 0; r < rounds; r++)
        {
            var dir = Directory.CreateTempSubdirectory("minimind-bench-pipeline-").FullName;
            try
            {
                var run = PipelineRun.Run(cli, PipelineRun.PretrainArgs(preset, batch, seqLen, steps + 1, precision, threads, dir));
                ours.Add(run);
                Console.WriteLine(FormattableString.Invariant($"  ours    {precision}: {run.TokensPerSecond:F0} tok/s, peak RSS {run.PeakRssMb:F0} MB, {run.WallSeconds:F1} s wall, CPU user {run.UserSeconds:F1} s sys {run.SysSeconds:F1} s; load {run.Load:F2}"));
            }
            finally { Directory.Delete(dir, true); }
            if (a.Flag("--no-pytorch")) continue;
            var py = PyTorchRef.Run("train", config, threads, "--batch", $"{batch}", "--seq-len", $"{seqLen}", "--steps", $"{steps}", "--warmup", "1");
            if (py is not { } p) continue;
            torchRuns.Add(p);
            Console.WriteLine(FormattableString.Invariant($"  pytorch fp32: {p.GetProperty("tokens_per_second").GetDouble():F0} tok/s, peak RSS {(p.TryGetProperty("peak_rss_mb", out var rss) ? rss.GetDouble() : double.NaN):F0} MB; load {Measure.LoadAverage():F2}"));
        }
        var tps = Measure.Median(ours.Select(o => o.TokensPerSecond ?? double.NaN));
        double? torchTps = torchRuns.Count > 0 ? Measure.Median(torchRuns.Select(p => p.GetProperty("tokens_per_second").GetDouble())) : null;
        double? torchRss = torchRuns.Count > 0 && torchRuns.All(p => p.TryGetProperty("peak_rss_mb", out _)) ? Measure.Median(torchRuns.Select(p => p.GetProperty("peak_rss_mb").GetDouble())) : null;
        var peakRss = ours.Max(o => o.PeakRssMb);
        if (torchTps is { } t)
            Console.WriteLine(FormattableString.Invariant($"median: ours {tps:F0} tok/s vs PyTorch {t:F0} tok/s → {tps / t:F2}×; peak RSS ours {peakRss:F0} MB, PyTorch {torchRss:F0} MB"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "train-pipeline", preset, batch, seq_len = seqLen, steps, precision, threads, rounds,
            tokens_per_second = Math.Round(tps, 1),
            pytorch_tokens_per_second = torchTps,
            ratio_vs_pytorch = torchTps is { } r2 ? Math.Round(tps / r2, 3) : (double?)null,
            peak_rss_mb = Math.Round(peakRss, 0),
            pytorch_peak_rss_mb = torchRss,
            loss_last = ours[^1].Loss,
            wall_s = ours.Select(o => Math.Round(o.WallSeconds, 1)).ToArray(),
            load = ours.Select(o => o.Load).ToArray(),
            cpu = Measure.CpuSummary(),
            load_average = Measure.LoadAverage(),
        }));
        return 0;
    }

    public static ScalarType ParsePrecision(string p) => p switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"--precision {p}: expected fp32 or bf16"),
    };

    sealed record RunResult(double MedianMs, double[] Losses, double UserSecondsPerStep, double SysSecondsPerStep, double FaultsPerStep, double OptimizerMs);

    static RunResult Train(MiniMindConfig config, ScalarType computeDType, int batch, int seqLen, int steps, int warmup)
    {
        torch.manual_seed(1234);
        using var model = new MiniMindForCausalLM(config);
        model.ComputeDType = computeDType;
        model.train();
        var parameters = model.OptimizerParameters();
        using var opt = new MiniMind.Model.Training.AdamW(parameters, lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01);
        var data = new torch.Generator(42);
        using var tokens = torch.randint(0, config.VocabSize, [4, batch, seqLen + 1], generator: data);
        var times = new List<double>();
        var optimizerTimes = new List<double>();
        var losses = new List<double>();
        (double User, double Sys) cpu0 = default;
        long faults0 = 0;
        for (var step = 0; step < warmup + steps; step++)
        {
            if (step == warmup) (cpu0, faults0) = (Measure.CpuSeconds(), Measure.MinorFaults());
            var sw = Stopwatch.StartNew();
            using (var scope = torch.NewDisposeScope())
            {
                var t = tokens[step % 4];
                var x = t[.., ..seqLen];
                var y = t[.., 1..];
                var mask = torch.ones_like(y, dtype: ScalarType.Float32);
                var output = model.call(x);
                var loss = Losses.PretrainLoss(output, y, mask);
                loss.backward();
                nn.utils.clip_grad_norm_(parameters, 1.0);
                var optimizerStart = sw.Elapsed.TotalMilliseconds;
                opt.Step();
                if (step >= warmup) optimizerTimes.Add(sw.Elapsed.TotalMilliseconds - optimizerStart);
                opt.zero_grad();
                losses.Add(loss.item<float>());
            }
            if (step >= warmup) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        var cpu1 = Measure.CpuSeconds();
        return new RunResult(Measure.Median(times), losses.ToArray(), (cpu1.User - cpu0.User) / steps, (cpu1.Sys - cpu0.Sys) / steps,
            (Measure.MinorFaults() - faults0) / (double)steps, Measure.Median(optimizerTimes));
    }

    /// <summary>6·N per token for the weight matmuls (embedding lookup excluded, lm_head included) plus
    /// 6·L·T·h for attention scores and values (causal half of 12·L·T·h).</summary>
    public static double TrainingFlopsPerToken(MiniMindConfig c, int seqLen)
    {
        long h = c.HiddenSize, kv = (long)c.NumKeyValueHeads * c.HeadDim, f = c.FfnSize;
        var attn = h * h * 2 + h * kv * 2;
        var ffnPerExpert = 3 * h * f;
        var ffn = c.UseMoe ? ffnPerExpert * (c.NumExpertsPerTok + c.NSharedExperts) + h * c.NRoutedExperts : ffnPerExpert;
        var perLayer = attn + ffn;
        var matmulParams = c.NumHiddenLayers * perLayer + h * c.VocabSize;
        return 6.0 * matmulParams + 6.0 * c.NumHiddenLayers * seqLen * h;
    }
}
