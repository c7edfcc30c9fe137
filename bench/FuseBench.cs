using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>
/// In-process A/B of one fusion (or the thread count), interleaved step by step so that both sides see the same load:
///   fuse --what adamw|sdpa|threads|optimizer [--preset minimind2-small] [--batch 4] [--seq-len 256] [--steps 10] [--warmup 2] [--threads 2]
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
        if (what is not ("adamw" or "sdpa" or "threads" or "optimizer"))
            throw new BenchArgumentException($"--what {what}: expected adamw, sdpa, threads or optimizer");
        var preset = a.Get("--preset", "minimind2-small");
        int batch = a.Int("--batch", 4), seqLen = a.Int("--seq-len", 256), steps = a.Int("--steps", 10), warmup = a.Int("--warmup", 2);
        var threads = a.Int("--threads", 2);
        torch.set_num_threads(threads);
        var config = MiniMindConfig.Load(preset);
        if (what == "optimizer") return Optimizer(config, preset, steps, threads);
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

    /// <summary>The AdamW update alone on the preset's parameter shapes: TorchSharp's op sequence vs the fused kernel on
    /// 1 and on 2 .NET threads, interleaved round by round; min and median ms per update of all parameters.</summary>
    static int Optimizer(MiniMindConfig config, string preset, int rounds, int threads)
    {
        Console.WriteLine($"fuse optimizer: preset {preset}, {rounds} rounds, torch threads {threads}; cpu: {Measure.CpuSummary()}; load {Measure.LoadAverage():F2}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        torch.manual_seed(1);
        using var model = new MiniMindForCausalLM(config);
        var ps = model.OptimizerParameters().Select(p => p.detach().clone()).ToList();
        var gs = ps.Select(p => torch.randn_like(p)).ToList();
        var ms = ps.Select(p => torch.randn_like(p)).ToList();
        var vs = ps.Select(p => torch.rand_like(p)).ToList();
        var c = new MiniMind.Model.Training.AdamWKernel.Coefficients(0.99999f, 0.9f, 0.1f, 0.999f, 0.001f, 0.3f, 1e-8f, -1e-4f);
        var times = new Dictionary<string, List<double>> { ["ops"] = [], ["kernel 1 thread"] = [], ["kernel 2 threads"] = [] };
        using Scalar decay = 0.99999.ToScalar(), b1 = 0.9.ToScalar(), omb1 = 0.1.ToScalar(), b2 = 0.999.ToScalar(), omb2 = 0.001.ToScalar(),
            e = 1e-8.ToScalar(), sq = 0.3.ToScalar(), step = (-1e-4).ToScalar();
        for (var r = 0; r < rounds + 1; r++)
        {
            foreach (var name in times.Keys)
            {
                var sw = Stopwatch.StartNew();
                using (torch.no_grad())
                    for (var i = 0; i < ps.Count; i++)
                    {
                        if (name == "ops")
                        {
                            ps[i].mul_(decay);
                            ms[i].mul_(b1).add_(gs[i], omb1);
                            vs[i].mul_(b2).addcmul_(gs[i], gs[i], omb2);
                            using var denom = vs[i].sqrt().div(sq).add_(e, MiniMind.Model.Scalars.One);
                            ps[i].addcdiv_(ms[i], denom, step);
                        }
                        else MiniMind.Model.Training.AdamWKernel.Update(ps[i], gs[i], ms[i], vs[i], c, name == "kernel 1 thread" ? 1 : 2);
                    }
                if (r > 0) times[name].Add(sw.Elapsed.TotalMilliseconds);
            }
        }
        foreach (var (name, t) in times)
            Console.WriteLine(FormattableString.Invariant($"{name,-17}: median {Measure.Median(t):F1} ms, min {t.Min():F1} ms per update of {ps.Sum(p => p.numel()):N0} parameters"));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "fuse", what = "optimizer", preset, rounds, threads,
            ops_ms = Math.Round(Measure.Median(times["ops"]), 1), ops_min_ms = Math.Round(times["ops"].Min(), 1),
            kernel1_ms = Math.Round(Measure.Median(times["kernel 1 thread"]), 1), kernel1_min_ms = Math.Round(times["kernel 1 thread"].Min(), 1),
            kernel2_ms = Math.Round(Measure.Median(times["kernel 2 threads"]), 1), kernel2_min_ms = Math.Round(times["kernel 2 threads"].Min(), 1),
            cpu = Measure.CpuSummary(), load_average = Measure.LoadAverage(),
        }));
        foreach (var t in ps.Concat(gs).Concat(ms).Concat(vs)) t.Dispose();
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
            model.train();
            parameters = model.OptimizerParameters();
            opt = new MiniMind.Model.Training.AdamW(parameters, lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01)
            {
                Fused = what == "adamw" ? side : MiniMind.Model.Training.AdamW.FusedByDefault,
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
