using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Data;
using MiniMind.Model.Tokenizer;
using TorchSharp;

namespace MiniMind.Bench;

/// <summary>
/// GRPO's rollout throughput and the learner's share of the wall time, with 1 and 2 rollout workers in this process:
///   grpo [--preset tiny] [--workers 1,2] [--prompts 2] [--generations 4] [--max-gen-len 24] [--accumulation 4] [--steps 4] [--threads 1] [--no-pytorch]
/// Each worker is what a worker node runs (its own policy replica and <see cref="GrpoObjective"/>, one torch thread, on its
/// own .NET thread); a step's --accumulation micro-batches are dealt round-robin to the workers, which roll out, score and
/// backpropagate them in parallel; the gradients are summed in the fixed tree and every replica applies the sum, as the
/// cluster does. Rollout tok/s: completion tokens (to the first EOS) per second of step wall time; learner share: the
/// workers' time outside rollouts and scoring (forwards, backward, the update) over workers × wall time. The first step
/// is a warm-up and not counted. Rollouts are seeded, so every worker count generates the same tokens.
/// Then, unless --no-pytorch, the same config in MiniMind's single-process loop (bench/pytorch/minimind_ref.py grpo: our
/// PyTorch loop in train_grpo.py's shape, same weights, same prompts, one thread): its learner share of the wall time
/// against ours with one worker, as a ratio.
/// </summary>
public static class GrpoBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--preset", "--workers", "--prompts", "--generations", "--max-gen-len", "--accumulation", "--steps", "--threads", "--data", "--tokenizer"], ["--no-pytorch"]);
        var preset = a.Get("--preset", "tiny");
        var workerCounts = a.Get("--workers", "1,2").Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        int prompts = a.Int("--prompts", 2), generations = a.Int("--generations", 4), maxGen = a.Int("--max-gen-len", 24),
            accumulation = a.Int("--accumulation", 4), steps = a.Int("--steps", 4), threads = a.Int("--threads", 1);
        if (steps < 2) throw new BenchArgumentException("--steps must be at least 2 (the first is a warm-up)");
        var tokenizerPath = a.Get("--tokenizer", "dataset/tokenizer/tokenizer.json");
        Console.WriteLine($"cpu: {Measure.CpuSummary()}");
        Console.WriteLine($"preset {preset}: {accumulation} micro-batches × {prompts} prompts × {generations} generations, ≤ {maxGen} new tokens, {steps} steps ({steps - 1} timed), {threads} torch thread(s) per worker, load {Measure.LoadAverage():0.00}");

        var dir = Directory.CreateTempSubdirectory("minimind-bench-grpo-").FullName;
        var config = MiniMindConfig.Load(preset);
        var sft = Path.Combine(dir, "full_sft.pth");
        torch.manual_seed(42);
        using (var init = new MiniMindForCausalLM(config)) StateDictFile.Write(sft, init, StateDictWriteOptions.MiniMindHalf);
        var settings = new TrainingSettings
        {
            Stage = "grpo", ConfigJson = config.ToJson(), TokenizerPath = tokenizerPath, RunDir = dir, InitFrom = sft, FrozenModelPath = sft,
            MaxSeqLen = 96, BatchSize = prompts, AccumulationSteps = accumulation, Threads = threads,
            Grpo = new GrpoSettings { NumGenerations = generations, MaxGenLen = maxGen },
        };
        var data = RlaifDataset.Load(a.Get("--data", "dataset/rlaif.jsonl"), BpeTokenizer.FromFile(tokenizerPath), 96, 0.9, 42);
        DataLoader.MicroBatch Micro(int step, int m)
        {
            var samples = Enumerable.Range(0, prompts).Select(r => (long)((step * accumulation + m) * prompts + r) % data.Count).ToArray();
            var rows = samples.Select(data.Get).ToArray();
            return new DataLoader.MicroBatch(prompts, 96, [.. rows.SelectMany(x => x.X)], [.. rows.SelectMany(x => x.Y)], [.. rows.SelectMany(x => x.LossMask)], samples);
        }

        var results = new List<object>();
        double? oneWorker = null;
        var shares = new List<double>();
        foreach (var count in workerCounts)
        {
            var workers = Enumerable.Range(0, count).Select(_ => new Worker(settings)).ToArray();
            double wall = 0, learner = 0, tokens = 0, rollout = 0;
            for (var step = 0; step < steps; step++)
            {
                var started = Stopwatch.GetTimestamp();
                var sum = new TreeSum(accumulation);
                var done = workers.Select((w, i) => Task.Factory.StartNew(() =>
                {
                    torch.set_num_threads(threads);
                    return Enumerable.Range(0, accumulation).Where(m => m % count == i).Select(m => (m, w.Compute(Micro(step, m), step, accumulation))).ToList();
                }, TaskCreationOptions.LongRunning)).ToArray();
                Task.WaitAll(done);
                foreach (var (m, r) in done.SelectMany(t => t.Result)) sum.Add(m, 1, r.Gradient);
                var applied = workers.Select(w => Task.Factory.StartNew(() => { torch.set_num_threads(threads); return w.Apply(sum.Result!); }, TaskCreationOptions.LongRunning)).ToArray();
                Task.WaitAll(applied);
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                if (step == 0) continue;                                                     // warm-up
                wall += seconds;
                var parts = done.SelectMany(t => t.Result).Select(x => x.Item2).ToList();
                tokens += parts.Sum(p => p.Metrics.Tokens);
                rollout += parts.Sum(p => p.Metrics.RolloutSeconds);
                learner += parts.Sum(p => p.Seconds - p.Metrics.RolloutSeconds - p.Metrics.RewardSeconds) + applied.Sum(t => t.Result);
            }
            foreach (var w in workers) w.Dispose();
            var tps = tokens / wall;
            oneWorker ??= tps;
            var share = learner / (count * wall);
            shares.Add(share);
            Console.WriteLine(FormattableString.Invariant(
                $"{count} worker(s): {wall / (steps - 1):F2} s/step, rollout {tps:F1} tok/s (×{tps / oneWorker:F2}), rollout {rollout / (count * wall) * 100:F0} % and learner {share * 100:F0} % of the workers' time"));
            results.Add(new { workers = count, seconds_per_step = wall / (steps - 1), rollout_tokens_per_second = tps, learner_share = share });
        }
        object? pytorch = null;
        if (!a.Flag("--no-pytorch"))
        {
            // the same prompts, step by step and micro-batch by micro-batch, as token ids (a prompt: its leading mask-1 tokens)
            static int[] Prompt(DataLoader.MicroBatch b, int r) => [.. b.X.Skip(r * b.SeqLen).Take(b.SeqLen).Where((_, i) => b.Mask[r * b.SeqLen + i] > 0)];
            var promptsFile = Path.Combine(dir, "prompts.json");
            File.WriteAllText(promptsFile, JsonSerializer.Serialize(Enumerable.Range(0, steps).Select(s =>
                Enumerable.Range(0, accumulation).Select(m => { var b = Micro(s, m); return Enumerable.Range(0, b.Rows).Select(r => Prompt(b, r)).ToArray(); }).ToArray()).ToArray()));
            var py = PyTorchRef.Run("grpo", config, threads, "--weights", sft, "--prompts", promptsFile, "--generations", $"{generations}",
                "--max-gen-len", $"{maxGen}", "--accumulation", $"{accumulation}", "--steps", $"{steps}");
            if (py is { } p)
            {
                var share = p.GetProperty("learner_share").GetDouble();
                var ours = shares[0];
                Console.WriteLine(FormattableString.Invariant(
                    $"pytorch {p.GetProperty("torch").GetString()} single-process loop: {p.GetProperty("seconds_per_step").GetDouble():F2} s/step, rollout {p.GetProperty("rollout_tokens_per_second").GetDouble():F1} tok/s, learner {share * 100:F0} % of the wall time (ours with {workerCounts[0]} worker(s): {ours * 100:F0} %, ratio {ours / share:F2})"));
                pytorch = new { seconds_per_step = p.GetProperty("seconds_per_step").GetDouble(), rollout_tokens_per_second = p.GetProperty("rollout_tokens_per_second").GetDouble(),
                                learner_share = share, learner_share_ratio = ours / share };
            }
        }
        Directory.Delete(dir, true);
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "grpo", preset, prompts, generations, max_gen_len = maxGen, accumulation, results, pytorch }));
        return 0;
    }

    /// <summary>One rollout worker: a policy replica with its AdamW and the GRPO objective.</summary>
    sealed class Worker : IDisposable
    {
        readonly GrpoObjective objective;
        readonly MiniMindForCausalLM model;
        readonly GradientStep step;

        public Worker(TrainingSettings settings)
        {
            objective = (GrpoObjective)StageObjective.For(settings);
            model = objective.BuildModel(torch.CPU, fresh: true);
            step = new GradientStep(objective.TrainableParameters(model), 1e-5, 0.01);
        }

        public (float[] Gradient, double Seconds, RlMetrics Metrics) Compute(DataLoader.MicroBatch batch, long at, int accumulation)
        {
            var started = Stopwatch.GetTimestamp();
            var gradient = new float[step.Length];
            step.Backward(model, () => objective.Loss(model, batch, accumulation, torch.CPU, at), gradient);
            return (gradient, Stopwatch.GetElapsedTime(started).TotalSeconds, objective.LastMetrics!);
        }

        public double Apply(float[] sum)
        {
            var started = Stopwatch.GetTimestamp();
            step.Apply(sum, 1e-5);
            return Stopwatch.GetElapsedTime(started).TotalSeconds;
        }

        public void Dispose()
        {
            step.Dispose();
            model.Dispose();
            objective.Dispose();
        }
    }
}
