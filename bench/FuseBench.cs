using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>
/// In-process A/B of one fusion (or the thread count), interleaved step by step so that both sides see the same load:
///   fuse --what qkv|gateup|adamw|sdpa|threads [--preset minimind2-small] [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2] [--threads 2]
/// Two trainers (MiniMind's pretrain step: forward, CE + aux, backward, clip 1.0, AdamW wd 0.01) start from the same init
/// and see the same batches; A = the fused path (sdpa: F.scaled_dot_product_attention, threads: 2), B = the separate one
/// (sdpa: MiniMind's explicit softmax attention, flash_attn = false; threads: 1). Steps alternate A, B, B, A, …
/// (the order swaps every pair). Prints each side's median and minimum ms per step and optimizer ms, the median of the
/// per-pair ratios B/A (the speed-up of A), and both losses.
/// </summary>
public static class FuseBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--what", "--preset", "--batch", "--seq-len", "--steps", "--warmup", "--threads"], []);
        var what = a.Required("--what");
        if (what is not ("qkv" or "gateup" or "adamw" or "sdpa" or "threads"))
            throw new BenchArgumentException($"--what {what}: expected qkv, gateup, adamw, sdpa or threads");
        var preset = a.Get("--preset", "minimind2-small");
        int batch = a.Int("--batch", 4), seqLen = a.Int("--seq-len", 256), steps = a.Int("--steps", 10), warmup = a.Int("--warmup", 2);
        var threads = a.Int("--threads", 2);
        torch.set_num_threads(threads);
        var config = MiniMindConfig.Load(preset);
        Console.WriteLine($"fuse A/B {what}: preset {preset} h{config.HiddenSize} L{config.NumHiddenLayers} moe={config.UseMoe}; B{batch}×T{seqLen}, {steps} pairs (+{warmup}), {threads} threads");
        Console.WriteLine($"cpu: {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"runtime: {MiniMind.Model.Native.NativeStartup.Describe()}");

        using var A = new Trainer(config, what, fused: true);
        using var B = new Trainer(config, what, fused: false);
        int threadsA = what == "threads" ? 2 : threads, threadsB = what == "threads" ? 1 : threads;
        var data = new torch.Generator(42);
        using var tokens = torch.randint(0, config.VocabSize, [4, batch, seqLen + 1], generator: data);
        var ratios = new List<double>();
        for (var step = 0; step < warmup + steps; step++)
        {
            var t = tokens[step % 4];
            double ms(Trainer tr, int n) { torch.set_num_threads(n); return tr.Step(t, seqLen, step >= warmup); }
            double ta, tb;
            if (step % 2 == 0) { ta = ms(A, threadsA); tb = ms(B, threadsB); }
            else { tb = ms(B, threadsB); ta = ms(A, threadsA); }
            t.Dispose();
            if (step >= warmup) ratios.Add(tb / ta);
        }
        torch.set_num_threads(threads);
        var ratio = Measure.Median(ratios);
        string Row(string side, Trainer tr) => FormattableString.Invariant(
            $"{side}: median {Measure.Median(tr.Times):F1} ms/step (min {tr.Times.Min():F1}), optimizer median {Measure.Median(tr.OptimizerTimes):F2} ms (min {tr.OptimizerTimes.Min():F2}), loss {tr.Losses[0]:F6} → {tr.Losses[^1]:F6}");
        Console.WriteLine(Row($"A {Label(what, true)}", A));
        Console.WriteLine(Row($"B {Label(what, false)}", B));
        Console.WriteLine(FormattableString.Invariant(
            $"A/B speed-up (median of per-pair B/A): {ratio:F3}×; min/min {B.Times.Min() / A.Times.Min():F3}×; optimizer median B/A {Measure.Median(B.OptimizerTimes) / Measure.Median(A.OptimizerTimes):F2}×; |Δloss_last| {Math.Abs(A.Losses[^1] - B.Losses[^1]):E2}; load {Measure.LoadAverage():F2}"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "fuse", what, preset, batch, seq_len = seqLen, steps, threads,
            a = Label(what, true), b = Label(what, false),
            ms_per_step_a = Math.Round(Measure.Median(A.Times), 1), ms_per_step_b = Math.Round(Measure.Median(B.Times), 1),
            min_ms_a = Math.Round(A.Times.Min(), 1), min_ms_b = Math.Round(B.Times.Min(), 1),
            optimizer_ms_a = Math.Round(Measure.Median(A.OptimizerTimes), 2), optimizer_ms_b = Math.Round(Measure.Median(B.OptimizerTimes), 2),
            speedup_a_over_b = Math.Round(ratio, 3),
            tokens_per_second_a = Math.Round(batch * seqLen / (Measure.Median(A.Times) / 1000), 1),
            tokens_per_second_b = Math.Round(batch * seqLen / (Measure.Median(B.Times) / 1000), 1),
            loss_last_a = A.Losses[^1], loss_last_b = B.Losses[^1],
            cpu = Measure.CpuSummary(), load_average = Measure.LoadAverage(),
        }));
        return 0;
    }

    static string Label(string what, bool a) => what switch
    {
        "threads" => a ? "2 threads" : "1 thread",
        "sdpa" => a ? "sdpa" : "explicit attention",
        _ => a ? $"{what} fused" : $"{what} separate",
    };

    sealed class Trainer : IDisposable
    {
        readonly MiniMindForCausalLM model;
        readonly IReadOnlyList<TorchSharp.Modules.Parameter> parameters;
        readonly MiniMind.Model.Training.AdamW opt;

        public List<double> Times { get; } = [];
        public List<double> OptimizerTimes { get; } = [];
        public List<double> Losses { get; } = [];

        public Trainer(MiniMindConfig config, string what, bool fused)
        {
            torch.manual_seed(1234);
            model = new MiniMindForCausalLM(what == "sdpa" ? config with { FlashAttn = fused } : config);
            var side = what == "threads" || fused;                          // threads: both sides run the defaults
            foreach (var m in model.modules().OfType<Attention>()) m.FusedQkv = what == "qkv" ? side : Fusion.Qkv;
            foreach (var m in model.modules().OfType<FeedForward>()) m.FusedGateUp = what == "gateup" ? side : Fusion.GateUp;
            model.train();
            parameters = model.OptimizerParameters();
            opt = new MiniMind.Model.Training.AdamW(parameters, lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01)
            {
                Fused = what == "adamw" ? side : Fusion.AdamW,
            };
        }

        public double Step(Tensor t, int seqLen, bool record)
        {
            var sw = Stopwatch.StartNew();
            double optMs;
            using (var scope = torch.NewDisposeScope())
            {
                var x = t[.., ..seqLen];
                var y = t[.., 1..];
                var mask = torch.ones_like(y, dtype: ScalarType.Float32);
                var loss = MiniMind.Model.Losses.PretrainLoss(model.call(x), y, mask);
                loss.backward();
                nn.utils.clip_grad_norm_(parameters, 1.0);
                var o = sw.Elapsed.TotalMilliseconds;
                opt.Step();
                optMs = sw.Elapsed.TotalMilliseconds - o;
                opt.zero_grad();
                Losses.Add(loss.item<float>());
            }
            var ms = sw.Elapsed.TotalMilliseconds;
            if (record)
            {
                Times.Add(ms);
                OptimizerTimes.Add(optMs);
            }
            return ms;
        }

        public void Dispose()
        {
            opt.Dispose();
            model.Dispose();
        }
    }
}
