using System.Diagnostics;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Model;
using MiniMind.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Bench;

/// <summary>
/// The actor pipeline's cost, side by side with a bare TorchSharp loop on the same model, data and step:
///   actors [--preset tiny] [--batch 16] [--seq-len 128] [--accumulation 1] [--steps 30] [--warmup 3] [--save-interval 10] [--threads 1]
/// Overhead = actor ms/step ÷ bare ms/step − 1 (target ≤ 3 %), measured with no checkpoints in the window; then the
/// checkpoint stall (the snapshot the worker makes on the training thread) as a share of step time (target ≤ 2 %).
/// </summary>
public static class ActorsBench
{
    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, "--preset", "--batch", "--seq-len", "--accumulation", "--steps", "--warmup", "--save-interval", "--threads", "--data", "--tokenizer");
        var preset = a.Get("--preset", "tiny");
        int batch = a.Int("--batch", 16), seqLen = a.Int("--seq-len", 128), accumulation = a.Int("--accumulation", 1);
        int steps = a.Int("--steps", 30), warmup = a.Int("--warmup", 3), saveInterval = a.Int("--save-interval", 10), threads = a.Int("--threads", 1);
        torch.set_num_threads(threads);
        var config = MiniMindConfig.Load(preset);
        var runDir = Directory.CreateTempSubdirectory("minimind-bench-actors-").FullName;
        var settings = new TrainingSettings
        {
            ConfigJson = config.ToJson(), DataPath = a.Get("--data", "dataset/pretrain.jsonl"), TokenizerPath = a.Get("--tokenizer", "dataset/tokenizer/tokenizer.json"),
            RunDir = runDir, BatchSize = batch, MaxSeqLen = seqLen, AccumulationSteps = accumulation, MaxSteps = warmup + steps,
            SaveInterval = int.MaxValue, LogInterval = 1, Threads = threads, Deterministic = true,
        };
        var dataset = TrainingRun.OpenDataset(settings);
        var plan = TrainingPlan.For(dataset.Count, settings);
        Console.WriteLine($"preset {preset}: B{batch}×T{seqLen}×A{accumulation}, {steps} steps (+{warmup} warm-up), {threads} thread(s)");

        var bare = BareLoop(settings, dataset, plan, warmup, steps);
        Console.WriteLine($"bare TorchSharp loop : {bare:F1} ms/step");
        var actors = ActorLoop(settings with { RunDir = Path.Combine(runDir, "a") }, warmup, steps);
        Console.WriteLine($"actor pipeline       : {actors.MsPerStep:F1} ms/step ({actors.MsPerStep / bare - 1:P1} overhead)");
        var saving = ActorLoop(settings with { RunDir = Path.Combine(runDir, "b"), SaveInterval = saveInterval }, warmup, steps);
        var stallShare = saving.StallMs / (saving.MsPerStep * steps);
        Console.WriteLine($"with a checkpoint every {saveInterval} steps: {saving.MsPerStep:F1} ms/step; snapshot stall {saving.StallMs:F1} ms total = {stallShare:P2} of step time");
        Directory.Delete(runDir, true);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "actors", preset, batch, seq_len = seqLen, accumulation, steps, threads,
            bare_ms_per_step = Math.Round(bare, 2), actor_ms_per_step = Math.Round(actors.MsPerStep, 2),
            overhead = Math.Round(actors.MsPerStep / bare - 1, 4),
            tokens_per_second_bare = Math.Round(batch * accumulation * (seqLen - 1) / (bare / 1000), 0),
            tokens_per_second_actors = Math.Round(batch * accumulation * (seqLen - 1) / (actors.MsPerStep / 1000), 0),
            checkpoint_stall_share = Math.Round(stallShare, 5), save_interval = saveInterval,
        }));
        return 0;
    }

    static double BareLoop(TrainingSettings s, ITokenizedDataset dataset, TrainingPlan plan, int warmup, int steps)
    {
        torch.manual_seed(42);
        using var model = new MiniMindForCausalLM(s.Config);
        var parameters = model.OptimizerParameters();
        using var opt = optim.AdamW(parameters, lr: s.LearningRate, weight_decay: 0.01);
        var order = SampleOrder.Permutation(dataset.Count, s.Seed, 0);
        var sw = new Stopwatch();
        for (var step = 0; step < warmup + steps; step++)
        {
            if (step == warmup) sw.Start();
            var batches = DataLoader.Build(dataset, plan, order, step);   // data prep counted, as the actor loader's is not hidden either
            using var scope = torch.NewDisposeScope();
            foreach (var g in opt.ParamGroups) g.LearningRate = plan.LearningRateAt(step);
            model.train();
            foreach (var mb in batches.Micro)
            {
                using var micro = torch.NewDisposeScope();
                var x = torch.tensor(mb.X, dtype: ScalarType.Int64).view(mb.Rows, mb.SeqLen);
                var y = torch.tensor(mb.Y, dtype: ScalarType.Int64).view(mb.Rows, mb.SeqLen);
                var mask = torch.tensor(mb.Mask).view(mb.Rows, mb.SeqLen);
                Losses.PretrainLoss(model.call(x), y, mask, batches.Micro.Count).backward();
            }
            nn.utils.clip_grad_norm_(parameters, 1.0);
            opt.step();
            opt.zero_grad();
        }
        return sw.Elapsed.TotalMilliseconds / steps;
    }

    sealed record ActorResult(double MsPerStep, double StallMs);

    static ActorResult ActorLoop(TrainingSettings s, int warmup, int steps)
    {
        var sw = new Stopwatch();
        double stall = 0;
        var run = TrainingRun.StartAsync(new TrainingRunOptions { Settings = s, Journal = JournalSpec.Parse("sqlite", s.RunDir) }, m =>
        {
            if (m is not TrainingCoordinator.TrainingProgress p) return;
            if (p.Step == warmup) sw.Restart();
            if (p.Step > warmup) stall += p.CheckpointStall.TotalMilliseconds;
            if (p.Step == warmup + steps) sw.Stop();
        }).GetAwaiter().GetResult();
        var finished = run.Finished.GetAwaiter().GetResult();
        run.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (finished.Outcome != TrainingCoordinator.Outcome.Completed) throw new InvalidOperationException(finished.Message);
        return new ActorResult(sw.Elapsed.TotalMilliseconds / steps, stall);
    }
}
