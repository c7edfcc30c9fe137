using System.Security.Cryptography;
using Akka.Actor;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Actors;

/// <summary>Raised by a <see cref="FaultPlan"/>: a stand-in for a device fault (CUDA error, OOM) in tests.</summary>
public sealed class InjectedFaultException(string message) : Exception(message);

/// <summary>Test hook: makes the worker throw at the start of each listed optimizer step (0-based), once per listing
/// (list a step twice to fail it twice). Shared across worker incarnations, so a restarted worker does not fail
/// again on the same step unless asked to.</summary>
public sealed class FaultPlan(params long[] steps)
{
    readonly List<long> pending = [.. steps];
    public static FaultPlan None { get; } = new();

    public bool Take(long step)
    {
        lock (pending) return pending.Remove(step);
    }
}

/// <summary>One per device: owns the model replica and its AdamW. Every handler is synchronous and does its tensor
/// work inside one dispose scope on the thread that runs it (notes/torchsharp.md §6); only numbers and byte arrays
/// leave. Runs on a pinned dispatcher when the host configures <see cref="DispatcherId"/>.
/// A restart loses the model; the worker tells its parent, which reloads the newest checkpoint and redoes the steps
/// since (bitwise the same on CPU).</summary>
public sealed class GpuWorker : ReceiveActor
{
    public const string DispatcherId = "minimind-worker-dispatcher";

    /// <summary>Build the stage's model (<see cref="StageObjective.BuildModel"/>: seeded init, or <see cref="TrainingSettings.InitFrom"/>), then restore
    /// <paramref name="From"/> if given. <paramref name="Generation"/> tags replies so stale ones can be dropped.</summary>
    public sealed record Initialize(int Generation, TrainingCheckpoint? From);
    public sealed record WorkerReady(int Generation, long Step, long ParameterCount);

    /// <summary>Run optimizer step <paramref name="Step"/> (0-based) over its micro-batches in order: loss/A backward
    /// per micro-batch, then clip and AdamW at <paramref name="Lr"/>.</summary>
    public sealed record RunStep(int Generation, long Step, double Lr, IReadOnlyList<DataLoader.MicroBatch> Micro);
    public sealed record StepRan(int Generation, long Step, double Loss, double GradNorm, long Tokens, TimeSpan Elapsed);

    /// <summary>Copy model, optimizer and RNG state to memory after <paramref name="StepsDone"/> steps.</summary>
    public sealed record Snapshot(int Generation, long StepsDone);
    public sealed record Snapshotted(int Generation, TrainingCheckpoint Checkpoint, TimeSpan Elapsed);

    /// <summary>Write the stage's output atomically (<see cref="StageObjective.Export"/>: MiniMind's fp16 <c>{k: v.half()}</c> .pth; LoRA: the adapters).</summary>
    public sealed record ExportWeights(int Generation, string Path);
    public sealed record WeightsExported(int Generation, string Path, string Sha256);

    /// <summary>Aggregated path (issue 5): forward + loss/A + backward on one micro-batch from zeroed grads, then ship
    /// the flattened gradient (unique parameters, in optimizer order) to <paramref name="Aggregator"/> as chunks.</summary>
    public sealed record ComputeGradients(int Generation, long Step, int Micro, int MicroCount, DataLoader.MicroBatch Batch, IActorRef Aggregator);

    /// <summary>Aggregated path: set the reduced gradient, clip and step AdamW at <paramref name="Lr"/>; replies <see cref="StepRan"/>.</summary>
    public sealed record ApplyGradients(int Generation, long Step, double Lr, float[] Gradient, double Loss, long Tokens);

    /// <summary>Sent to the parent after a restart: the model is gone and must be re-initialised.</summary>
    public sealed record WorkerRestarted(string Reason);

    static readonly object RngGate = new();

    readonly TrainingSettings settings;
    readonly FaultPlan faults;
    StageObjective? objective;
    MiniMindForCausalLM? model;
    IReadOnlyList<Parameter> parameters = [];
    AdamW? optimizer;

    public GpuWorker(TrainingSettings settings, FaultPlan faults)
    {
        this.settings = settings;
        this.faults = faults;
        Receive<Initialize>(OnInitialize);
        Receive<RunStep>(OnRunStep);
        Receive<Snapshot>(OnSnapshot);
        Receive<ExportWeights>(OnExport);
        Receive<ComputeGradients>(OnComputeGradients);
        Receive<ApplyGradients>(OnApplyGradients);
    }

    public static Props Props(TrainingSettings settings, FaultPlan? faults = null) =>
        Akka.Actor.Props.Create(() => new GpuWorker(settings, faults ?? FaultPlan.None));

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Context.Parent.Tell(new WorkerRestarted($"{reason.GetType().Name}: {reason.Message}"));
    }

    protected override void PostStop()
    {
        optimizer?.Dispose();
        model?.Dispose();
        objective?.Dispose();
        base.PostStop();
    }

    void UseThreads()
    {
        if (settings.Threads > 0 && torch.get_num_threads() != settings.Threads) torch.set_num_threads(settings.Threads);
    }

    void OnInitialize(Initialize msg)
    {
        UseThreads();
        optimizer?.Dispose();
        model?.Dispose();
        objective?.Dispose();
        var device = TorchRuntime.ParseDevice(settings.Device);
        long step = 0;
        // torch's default generator is process-wide: seeding and drawing the init must not interleave with another
        // worker in this process (tests run several; dropout would need a generator per worker, see README).
        lock (RngGate)
        {
            torch.manual_seed((long)(settings.Seed & 0x7FFF_FFFF_FFFF_FFFF));
            objective = StageObjective.For(settings);
            model = objective.BuildModel(device, fresh: msg.From is null);
            parameters = objective.TrainableParameters(model);
            optimizer = optim.AdamW(parameters, lr: settings.LearningRate, weight_decay: settings.WeightDecay);
            if (msg.From is { } ckpt)
            {
                using (var r = new BinaryReader(new MemoryStream(ckpt.Model))) model.load(r);
                using (var r = new BinaryReader(new MemoryStream(ckpt.Optimizer))) optimizer.load_state_dict(r);
                using (var rng = torch.tensor(ckpt.Rng)) torch.set_rng_state(rng);
                step = ckpt.Step;
            }
        }
        Sender.Tell(new WorkerReady(msg.Generation, step, parameters.Sum(p => p.numel())));
    }

    void OnRunStep(RunStep msg)
    {
        if (model is null || optimizer is null || objective is null) throw new InvalidOperationException("RunStep before Initialize");
        UseThreads();
        if (faults.Take(msg.Step)) throw new InjectedFaultException($"injected fault at step {msg.Step}");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var device = TorchRuntime.ParseDevice(settings.Device);
        var (loss, norm, tokens) = TrainOn(objective, model, optimizer, parameters, msg.Micro, msg.Lr, settings.GradClip, device);
        Sender.Tell(new StepRan(msg.Generation, msg.Step, loss, norm, tokens, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    /// <summary>One optimizer step, all its tensor work in one dispose scope: per micro-batch the ids/mask arrays become
    /// (B, T) tensors, the stage's loss/A backward; then clip and AdamW at <paramref name="lr"/>. Returns the mean micro-batch loss,
    /// the pre-clip grad norm and the loss tokens. Public so the bench's bare loop does exactly this work.</summary>
    public static (double Loss, double GradNorm, long Tokens) TrainOn(StageObjective objective, MiniMindForCausalLM model, optim.Optimizer optimizer,
        IReadOnlyList<Parameter> parameters, IReadOnlyList<DataLoader.MicroBatch> micro, double lr, double clip, Device device)
    {
        using var scope = torch.NewDisposeScope();
        model.train();
        foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
        var a = micro.Count;
        double lossSum = 0;
        long tokens = 0;
        // With several micro-batches, each one's gradient is taken on its own and summed in MicroReduction's tree, the
        // order a cluster uses too (a node with several devices adds up whole subtrees before sending them).
        var sum = new CanonicalSum<Tensor[]>(AddInto);
        foreach (var mb in micro)
        {
            using var step = torch.NewDisposeScope();   // frees each micro-batch's graph before the next
            if (a > 1) optimizer.zero_grad();
            var loss = objective.Loss(model, mb, a, device);
            loss.backward();
            lossSum += loss.item<float>() * a;
            tokens += mb.Tokens;
            if (a > 1) sum.Push([.. parameters.Select(p => (p.grad is { } g ? g.detach().clone() : torch.zeros_like(p)).MoveToOuterDisposeScope())]);
        }
        if (a > 1)
        {
            var total = sum.Finish();
            using (torch.no_grad())
                for (var i = 0; i < parameters.Count; i++) parameters[i].grad = total[i];
        }
        var norm = nn.utils.clip_grad_norm_(parameters, clip);
        optimizer.step();
        optimizer.zero_grad();
        return (lossSum / a, norm, tokens);
    }

    /// <summary>left += right per parameter; right's tensors are freed at once (a step keeps at most log2(A)+1 sums).</summary>
    static Tensor[] AddInto(Tensor[] left, Tensor[] right)
    {
        using (torch.no_grad())
            for (var i = 0; i < left.Length; i++)
            {
                left[i].add_(right[i]);
                right[i].Dispose();
            }
        return left;
    }

    void OnComputeGradients(ComputeGradients msg)
    {
        if (model is null || optimizer is null || objective is null) throw new InvalidOperationException("ComputeGradients before Initialize");
        UseThreads();
        if (msg.Micro == 0 && faults.Take(msg.Step)) throw new InjectedFaultException($"injected fault at step {msg.Step}");
        using var scope = torch.NewDisposeScope();
        var device = TorchRuntime.ParseDevice(settings.Device);
        model.train();
        optimizer.zero_grad();
        var mb = msg.Batch;
        var loss = objective.Loss(model, mb, msg.MicroCount, device);
        loss.backward();
        var flat = new float[parameters.Sum(p => p.numel())];
        var offset = 0;
        foreach (var p in parameters)
        {
            var n = (int)p.numel();
            if (p.grad is { } g) g.to_type(ScalarType.Float32).cpu().contiguous().data<float>().CopyTo(flat.AsSpan(offset, n));
            offset += n;
        }
        optimizer.zero_grad();
        Protocol.GradientTransport.For(Context.System).Send(msg.Aggregator, msg.Step, msg.Micro, 1, flat, Self);
        msg.Aggregator.Tell(new GradientAggregator.MicroBatchDone(msg.Step, msg.Micro, loss.item<float>() * msg.MicroCount, mb.Tokens));
    }

    void OnApplyGradients(ApplyGradients msg)
    {
        if (model is null || optimizer is null) throw new InvalidOperationException("ApplyGradients before Initialize");
        UseThreads();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var scope = torch.NewDisposeScope();
        var device = TorchRuntime.ParseDevice(settings.Device);
        foreach (var g in optimizer.ParamGroups) g.LearningRate = msg.Lr;
        var offset = 0;
        using (torch.no_grad())
        {
            foreach (var p in parameters)
            {
                var n = (int)p.numel();
                p.grad = torch.tensor(msg.Gradient.AsSpan(offset, n).ToArray()).view(p.shape).to(p.dtype).to(device).DetachFromDisposeScope();
                offset += n;
            }
        }
        var norm = nn.utils.clip_grad_norm_(parameters, settings.GradClip);
        optimizer.step();
        optimizer.zero_grad();
        Sender.Tell(new StepRan(msg.Generation, msg.Step, msg.Loss, norm, msg.Tokens, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    void OnSnapshot(Snapshot msg)
    {
        if (model is null || optimizer is null) throw new InvalidOperationException("Snapshot before Initialize");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var scope = torch.NewDisposeScope();
        byte[] Capture(Action<BinaryWriter> write)
        {
            using var ms = new MemoryStream();
            using (var w = new BinaryWriter(ms, System.Text.Encoding.UTF8, leaveOpen: true)) write(w);
            return ms.ToArray();
        }
        var modelBytes = Capture(w => model.save(w));
        var optBytes = Capture(w => optimizer.save_state_dict(w));
        byte[] rng;
        lock (RngGate) rng = torch.get_rng_state().data<byte>().ToArray();
        Sender.Tell(new Snapshotted(msg.Generation, new TrainingCheckpoint(msg.StepsDone, modelBytes, optBytes, rng),
            System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    void OnExport(ExportWeights msg)
    {
        if (model is null || objective is null) throw new InvalidOperationException("ExportWeights before Initialize");
        using var scope = torch.NewDisposeScope();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(msg.Path))!);     // LoRA writes into lora/
        var tmp = Path.ChangeExtension(msg.Path, ".tmp" + Path.GetExtension(msg.Path));   // writer picks the format by extension
        objective.Export(model, tmp);
        File.Move(tmp, msg.Path, overwrite: true);
        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(msg.Path)));
        Sender.Tell(new WeightsExported(msg.Generation, msg.Path, sha));
    }
}
