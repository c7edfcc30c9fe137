using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Actors.Stages;
using MiniMind.Cluster;
using MiniMind.Cluster.Nodes;
using MiniMind.Model;
using MiniMind.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>
/// The actor pipeline's cost, side by side with a bare TorchSharp loop on the same model, data and step:
///   actors [--preset tiny] [--batch 16] [--seq-len 128] [--accumulation 1] [--reps 3] [--steps 10] [--warmup 2] [--jit-steps 80] [--save-interval 5] [--threads 1]
/// Both variants run in this one process, interleaved A/B/A/B (<c>--reps</c> pairs), each repetition from a fresh model
/// with the same <c>--warmup</c> steps discarded. The bare loop does the workers' exact step (<see cref="BareStep"/>: the production
/// <see cref="GradientStep"/> halves around the aggregator's tree sum; same micro-batches built by <see cref="DataLoader.Build"/> from the same prepared data, same tensor creation, clip and
/// AdamW) on this thread, data prep included; the actor pipeline's step time is the wall time between consecutive
/// progress reports (loader, coordinator, journal, worker and listener hops included).
/// Overhead = median actor ms/step ÷ median bare ms/step − 1 (target ≤ 3 %), no checkpoint in the window. The pipeline's
/// own share is also shown directly: wall interval − the worker's compute time, per step (no bare loop needed).
/// Then the checkpoint stall (the snapshot the worker takes on the training thread) as a share of step time (target ≤ 2 %).
/// </summary>
public static class ActorsBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--preset", "--batch", "--seq-len", "--accumulation", "--reps", "--steps", "--warmup", "--save-interval", "--threads", "--data", "--tokenizer", "--jit-steps");
        var preset = a.Get("--preset", "tiny");
        int batch = a.Int("--batch", 16), seqLen = a.Int("--seq-len", 128), accumulation = a.Int("--accumulation", 1);
        int reps = a.Int("--reps", 3), steps = a.Int("--steps", 10), warmup = a.Int("--warmup", 2), saveInterval = a.Int("--save-interval", 5), threads = a.Int("--threads", 1);
        var jitSteps = a.Int("--jit-steps", 80);
        torch.set_num_threads(threads);
        var config = MiniMindConfig.Load(preset);
        var runDir = Directory.CreateTempSubdirectory("minimind-bench-actors-").FullName;
        var settings = new TrainingSettings
        {
            ConfigJson = config.ToJson(), DataPath = a.Get("--data", "dataset/pretrain.jsonl"), TokenizerPath = a.Get("--tokenizer", "dataset/tokenizer/tokenizer.json"),
            RunDir = runDir, BatchSize = batch, MaxSeqLen = seqLen, AccumulationSteps = accumulation, MaxSteps = warmup + steps,
            SaveInterval = int.MaxValue, LogInterval = 1, Threads = threads, Deterministic = true,
        };
        var dataset = NodeHosting.OpenDataset(settings);   // prepared once, shared by every repetition of both variants
        var plan = TrainingPlan.For(dataset.Count, settings);
        Console.WriteLine($"preset {preset}: B{batch}×T{seqLen}×A{accumulation}, {reps} × (bare, actors) interleaved, {steps} timed steps each after {warmup} warm-up, {threads} torch thread(s), load {Measure.LoadAverage():0.00}");

        // JIT warm-up: .NET recompiles a method after 30 calls (with dynamic PGO: instrumented, then optimized after another
        // 30), so code that runs once per step is still being recompiled during a run's first ~60 steps (a CLI run measured
        // 0.4–0.75 s of JIT per 10 s at steps 20–40, on the background tiering thread; after 40 warm-up steps the bench still
        // saw 100 ms/step of it). Both variants first run --jit-steps steps on one-row batches (same code paths, cheap),
        // so the timed repetitions compare steady-state code, as a long training run has.
        var jit = settings with { BatchSize = 1, MaxSteps = jitSteps };
        var jitClock = Stopwatch.StartNew();
        BareLoop(jit, dataset, TrainingPlan.For(dataset.Count, jit), 0, jitSteps);
        ActorLoop(jit with { RunDir = Path.Combine(runDir, "jit") }, dataset, 0, jitSteps);
        Console.WriteLine(FormattableString.Invariant($"JIT warm-up: {jitSteps} one-row steps of each variant in {jitClock.Elapsed.TotalSeconds:F1} s"));

        var bare = new List<double>();
        var actors = new List<double>();
        var gaps = new List<double>();
        var pairRatios = new List<double>();
        var cpu = (Bare: new List<double>(), Actors: new List<double>());
        var faults = (Bare: new List<double>(), Actors: new List<double>());
        for (var r = 0; r < reps; r++)
        {
            var b = BareLoop(settings, dataset, plan, warmup, steps);
            var act = ActorLoop(settings with { RunDir = Path.Combine(runDir, $"a{r}") }, dataset, warmup, steps);
            bare.AddRange(b.StepMs);
            actors.AddRange(act.StepMs);
            cpu.Bare.Add(b.CpuMsPerStep);
            cpu.Actors.Add(act.CpuMsPerStep);
            faults.Bare.Add(b.FaultsPerStep);
            faults.Actors.Add(act.FaultsPerStep);
            gaps.AddRange(act.GapMs);
            pairRatios.Add(Measure.Median(act.StepMs) / Measure.Median(b.StepMs));
            Console.WriteLine(FormattableString.Invariant(
                $"  rep {r + 1}: bare {Measure.Median(b.StepMs):F1} ms/step ({b.CpuMsPerStep:F0} CPU ms, {b.FaultsPerStep:F0} faults), actors {Measure.Median(act.StepMs):F1} ms/step ({act.CpuMsPerStep:F0} CPU ms, {act.FaultsPerStep:F0} faults; pipeline gap {Measure.Median(act.GapMs):F2} ms), ratio {pairRatios[^1]:F4}, load {Measure.LoadAverage():0.00}"));
            Console.WriteLine($"         actor CPU ms/step by thread: {act.TopThreads}");
        }
        double bareMs = Measure.Median(bare), actorMs = Measure.Median(actors), gapMs = Measure.Median(gaps);
        var overhead = actorMs / bareMs - 1;
        Console.WriteLine(FormattableString.Invariant($"bare TorchSharp loop : {bareMs:F1} ms/step (median of {bare.Count})"));
        Console.WriteLine(FormattableString.Invariant($"actor pipeline       : {actorMs:F1} ms/step (median of {actors.Count}) → overhead {overhead:P1} (median of per-pair ratios {Measure.Median(pairRatios) - 1:P1})"));
        double cpuBare = Measure.Median(cpu.Bare), cpuActors = Measure.Median(cpu.Actors);
        Console.WriteLine(FormattableString.Invariant($"process CPU per step : bare {cpuBare:F1} ms, actors {cpuActors:F1} ms → {cpuActors / cpuBare - 1:P1} more CPU (all threads; load-independent); minor faults/step {Measure.Median(faults.Bare):F0} vs {Measure.Median(faults.Actors):F0}"));
        Console.WriteLine(FormattableString.Invariant($"pipeline gap         : {gapMs:F2} ms/step = {gapMs / actorMs:P2} of a step (wall interval − worker compute, median)"));

        var saving = ActorLoop(settings with { RunDir = Path.Combine(runDir, "ckpt"), SaveInterval = saveInterval }, dataset, warmup, steps);
        var stallShare = saving.StallMs / saving.StepMs.Sum();
        Console.WriteLine(FormattableString.Invariant(
            $"with a checkpoint every {saveInterval} steps: {Measure.Median(saving.StepMs):F1} ms/step; snapshot stall {saving.StallMs:F1} ms total = {stallShare:P2} of step time"));
        Directory.Delete(runDir, true);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "actors", preset, batch, seq_len = seqLen, accumulation, reps, steps, warmup, jit_steps = jitSteps, threads,
            bare_ms_per_step = Math.Round(bareMs, 2), actor_ms_per_step = Math.Round(actorMs, 2),
            overhead = Math.Round(overhead, 4), pair_ratio_median = Math.Round(Measure.Median(pairRatios), 4),
            cpu_ms_per_step_bare = Math.Round(cpuBare, 2), cpu_ms_per_step_actors = Math.Round(cpuActors, 2), cpu_overhead = Math.Round(cpuActors / cpuBare - 1, 4),
            pipeline_gap_ms = Math.Round(gapMs, 3), pipeline_gap_share = Math.Round(gapMs / actorMs, 5),
            tokens_per_second_bare = Math.Round(batch * accumulation * (seqLen - 1) / (bareMs / 1000), 0),
            tokens_per_second_actors = Math.Round(batch * accumulation * (seqLen - 1) / (actorMs / 1000), 0),
            checkpoint_stall_share = Math.Round(stallShare, 5), save_interval = saveInterval,
            load = Math.Round(Measure.LoadAverage(), 2),
        }));
        return 0;
    }

    /// <summary>The worker's step without actors, on this thread: fresh seeded model and AdamW as the worker builds them.</summary>
    static LoopResult BareLoop(TrainingSettings s, ITokenizedDataset dataset, TrainingPlan plan, int warmup, int steps)
    {
        var device = TorchRuntime.ParseDevice(s.Device);
        torch.manual_seed((long)(s.Seed & 0x7FFF_FFFF_FFFF_FFFF));
        using var objective = StageObjective.For(s);
        using var model = new MiniMindForCausalLM(s.Config);
        model.to(device);
        using var gradientStep = new GradientStep(objective.TrainableParameters(model), s.LearningRate, s.WeightDecay, s.GradClip);
        var order = SampleOrder.Permutation(dataset.Count, s.Seed, 0);
        var times = new List<double>();
        var window = new Window();
        for (var step = 0; step < warmup + steps; step++)
        {
            if (step == warmup) window.Start();
            var started = Stopwatch.GetTimestamp();
            var batches = DataLoader.Build(dataset, plan, order, step);
            BareStep.Run(objective, model, gradientStep, batches.Micro, plan.LearningRateAt(step), device);
            if (step >= warmup) times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        window.Stop();
        return new LoopResult(times, [], 0, window.CpuMs / steps, window.Faults / (double)steps);
    }

    /// <summary>Process CPU time and minor page faults over the timed steps: comparable under load, unlike wall time.</summary>
    sealed class Window
    {
        double cpu0, cpu1;
        long faults0, faults1;
        Dictionary<string, (string Name, long Ticks)> threads0 = [], threads1 = [];
        public void Start() => (cpu0, faults0, threads0) = (CpuClock.ProcessSeconds(), MinorFaults(), Threads());
        public void Stop() => (cpu1, faults1, threads1) = (CpuClock.ProcessSeconds(), MinorFaults(), Threads());

        /// <summary>CPU ms per thread name over the window (threads of one name summed), largest first.</summary>
        public IEnumerable<(string Name, double Ms)> ByThread() =>
            threads1.Select(t => (t.Value.Name, Ticks: t.Value.Ticks - (threads0.TryGetValue(t.Key, out var s) ? s.Ticks : 0)))
                .GroupBy(t => t.Name).Select(g => (g.Key, g.Sum(t => t.Ticks) * 1000.0 / 100)).OrderByDescending(t => t.Item2);

        /// <summary>utime + stime (clock ticks, 100 Hz) of every thread, by tid.</summary>
        static Dictionary<string, (string Name, long Ticks)> Threads()
        {
            var result = new Dictionary<string, (string, long)>();
            foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                    var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    result[Path.GetFileName(dir)] = (System.Text.RegularExpressions.Regex.Replace(name, "[0-9]+$", "#"),
                        long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture));
                }
                catch (IOException) { }   // the thread exited meanwhile
            }
            return result;
        }
        public double CpuMs => (cpu1 - cpu0) * 1000;
        public long Faults => faults1 - faults0;

        static long MinorFaults()
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], CultureInfo.InvariantCulture);   // field 10 (minflt); fields[0] is field 3
        }
    }

    sealed record LoopResult(List<double> StepMs, List<double> GapMs, double StallMs, double CpuMsPerStep, double FaultsPerStep, string TopThreads = "");

    /// <summary>One fresh run (new run dir and journal) of warm-up + timed steps; per-step wall intervals between progress reports.</summary>
    static LoopResult ActorLoop(TrainingSettings s, ITokenizedDataset dataset, int warmup, int steps)
    {
        var stepMs = new List<double>();
        var gapMs = new List<double>();
        double stall = 0;
        long last = 0;
        var window = new Window();
        var node = NodeHost.StartAsync(NodeOptions.ForTraining(s, JournalSpec.Parse("sqlite", s.RunDir), control: null) with
        {
            Hooks = new NodeTestHooks { OpenDataset = _ => dataset },
        }).GetAwaiter().GetResult();
        var run = node.TrainAsync(s, r =>
        {
            if (r.Report is not TrainingCoordinator.TrainingProgress p) return;
            var now = Stopwatch.GetTimestamp();
            if (p.Step > warmup && p.Step <= warmup + steps)
            {
                var interval = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
                stepMs.Add(interval);
                gapMs.Add(interval - p.StepTime.TotalMilliseconds);
                stall += p.CheckpointStall.TotalMilliseconds;
            }
            if (p.Step == warmup) window.Start();
            if (p.Step == warmup + steps) window.Stop();
            last = now;
        }).GetAwaiter().GetResult();
        var finished = run.Finished.GetAwaiter().GetResult();
        node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (finished.Outcome != TrainingCoordinator.Outcome.Completed) throw new InvalidOperationException(finished.Message);
        if (stepMs.Count != steps) throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"expected {steps} timed steps, got {stepMs.Count}"));
        var top = string.Join(", ", window.ByThread().Take(6).Select(t => FormattableString.Invariant($"{t.Name} {t.Ms / steps:F0}")));
        return new LoopResult(stepMs, gapMs, stall, window.CpuMs / steps, window.Faults / (double)steps, top);
    }
}
