using Akka.Actor;
using Akka.Event;
using MiniMind.Actors.Checkpoints;
using MiniMind.Actors.Protocol;
using MiniMind.Actors.Rl;
using MiniMind.Actors.Stages;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Evaluation;
using TorchSharp;
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

    /// <summary>Steps (0-based) whose reported loss the worker multiplies by 100 (the gradient is untouched): a loss
    /// spike for the alert tests.</summary>
    public IReadOnlySet<long> LossSpikeSteps { get; init; } = new HashSet<long>();

    /// <summary>A pause before each micro-batch the coordinator's own replica computes (a cluster of one's worker-0):
    /// paces a short run so that a process test can act between steps. The numbers are unchanged.</summary>
    public TimeSpan ComputeDelay { get; init; }
}

/// <summary>One per device: owns the model replica and its AdamW. Every handler is synchronous and does its tensor
/// work inside one dispose scope on the thread that runs it (notes/torchsharp.md §6); only numbers and byte arrays
/// leave. Runs on a pinned dispatcher when the host configures <see cref="DispatcherId"/>.
/// A restart loses the model; the worker tells its parent, which reloads the newest checkpoint and redoes the steps
/// since (bitwise the same on CPU).
/// In the GRPO stage it has two children, a <see cref="RolloutActor"/> and a <see cref="RewardActor"/>: a micro-batch is
/// rolled out by the first (with this worker's model), scored by the second, then learned from here; the worker waits for
/// them (stashing its other work) and does not touch the model meanwhile.</summary>
public sealed class GpuWorker : ReceiveActor, IWithUnboundedStash
{
    public const string DispatcherId = "minimind-worker-dispatcher";

    /// <summary>Build the stage's model (<see cref="StageObjective.BuildModel"/>: seeded init, or <see cref="TrainingSettings.InitFrom"/>), then restore
    /// <paramref name="From"/> if given. <paramref name="Generation"/> tags replies so stale ones can be dropped.</summary>
    public sealed record Initialize(int Generation, TrainingCheckpoint? From);
    public sealed record WorkerReady(int Generation, long Step, long ParameterCount);

    /// <summary><paramref name="Elapsed"/>: this worker's compute for the step (its micro-batches' backward passes and the update).</summary>
    public sealed record StepRan(int Generation, long Step, double Loss, double GradNorm, long Tokens, TimeSpan Elapsed, RlMetrics? Rl = null);

    /// <summary>Copy model, optimizer and RNG state to memory after <paramref name="StepsDone"/> steps.</summary>
    public sealed record Snapshot(int Generation, long StepsDone);
    public sealed record Snapshotted(int Generation, TrainingCheckpoint Checkpoint, TimeSpan Elapsed);

    /// <summary>Write the stage's output atomically (<see cref="StageObjective.Export"/>: MiniMind's fp16 <c>{k: v.half()}</c> .pth; LoRA: the adapters).</summary>
    public sealed record ExportWeights(int Generation, string Path);
    public sealed record WeightsExported(int Generation, string Path, string Sha256);

    /// <summary>Forward + loss/A + backward on one micro-batch from zeroed grads (<see cref="GradientStep.Backward"/>), then
    /// hand the flattened gradient (unique parameters, in optimizer order) to <paramref name="Aggregator"/>: the array itself
    /// in this process, chunks through the gradient transport across nodes. Replies <see cref="GradientAggregator.MicroBatchDone"/> to it.</summary>
    public sealed record ComputeGradients(int Generation, long Step, int Micro, int MicroCount, DataLoader.MicroBatch Batch, IActorRef Aggregator);

    /// <summary>Set the reduced gradient, clip and step AdamW at <paramref name="Lr"/> (<see cref="GradientStep.Apply"/>); replies <see cref="StepRan"/>.
    /// <paramref name="Exclusive"/>: no one else holds <paramref name="Gradient"/> (the aggregator sent it to no replica and
    /// the applier is in its process), so after the step the worker may reuse the array for its next micro-batch instead
    /// of allocating a new one (26 M floats for minimind2-small: 103 MB of large-object garbage per step otherwise).</summary>
    public sealed record ApplyGradients(int Generation, long Step, double Lr, float[] Gradient, double Loss, long Tokens, RlMetrics? Rl = null,
                                        bool Exclusive = false);

    /// <summary>Sent to the parent after a restart: the model is gone and must be re-initialised.</summary>
    public sealed record WorkerRestarted(string Reason);

    /// <summary>Score <paramref name="Samples"/> (the held-out set, <see cref="EvalSettings"/>) with the weights after
    /// <paramref name="StepsDone"/> steps, without gradients (<see cref="Perplexity.Evaluate"/>); replies <see cref="Evaluated"/>.
    /// Reads the model only: no parameter, optimizer or RNG state changes, so training goes on bit for bit as without it.</summary>
    public sealed record Evaluate(int Generation, long StepsDone, IReadOnlyList<EvalSample> Samples);
    /// <summary><paramref name="MeanNll"/>: Σ CE·mask / Σ mask over the <paramref name="Tokens"/> scored tokens.</summary>
    public sealed record Evaluated(int Generation, long StepsDone, double MeanNll, long Tokens, int Samples, TimeSpan Elapsed);

    static readonly object RngGate = new();

    readonly TrainingSettings settings;
    readonly FaultPlan faults;
    StageObjective? objective;
    MiniMindForCausalLM? model;
    GradientStep? step;
    /// <summary>The generation this incarnation was initialised for (-1: none yet). Work for another one was queued for
    /// an incarnation that failed (the mailbox outlives a restart): dropped, the parent redoes it after the reload.</summary>
    int generation = -1;
    (long Step, TimeSpan Elapsed) computed;
    /// <summary>The flat gradient of the last micro-batch when it was the step's only one: its ApplyGradients brings this
    /// very array back unchanged (the tree sum of one gradient is that gradient), and the grads still hold it.</summary>
    (long Step, float[]? Gradient) sole;
    /// <summary>The GRPO stage's rollout and reward actors (Nobody in the other stages).</summary>
    readonly IActorRef rollouts = ActorRefs.Nobody, rewards = ActorRefs.Nobody;
    long rlRequests;
    /// <summary>The micro-batch being rolled out and scored (AwaitingRollouts).</summary>
    GrpoRound? pending;

    public IStash Stash { get; set; } = null!;
    /// <summary>The last exclusive gradient after its step was applied: the array of the next micro-batch.</summary>
    float[]? spare;

    public GpuWorker(TrainingSettings settings, FaultPlan faults)
    {
        this.settings = settings;
        this.faults = faults;
        if (settings.Stage == TrainingStage.Grpo.Name)
        {
            var log = Context.GetLogger();
            var grpo = settings.Grpo ?? new GrpoSettings();
            rollouts = Context.ActorOf(RolloutActor.Props(Context.System, settings.Threads), RolloutActor.Name);
            rewards = Context.ActorOf(RewardActor.Props(() => GrpoObjective.DefaultRewards(grpo, m => log.Warning(m))), RewardActor.Name);
        }
        Receive<Initialize>(OnInitialize);
        Receive<Snapshot>(OnSnapshot);
        Receive<ExportWeights>(OnExport);
        Receive<ComputeGradients>(OnComputeGradients);
        Receive<ApplyGradients>(OnApplyGradients);
        Receive<Evaluate>(OnEvaluate);
    }

    public static Props Props(TrainingSettings settings, FaultPlan? faults = null) =>
        Akka.Actor.Props.Create(() => new GpuWorker(settings, faults ?? FaultPlan.None));

    /// <summary><see cref="Props(TrainingSettings, FaultPlan?)"/> on the pinned <see cref="DispatcherId"/> when
    /// <paramref name="system"/> configures it.</summary>
    public static Props Props(ActorSystem system, TrainingSettings settings, FaultPlan? faults = null) =>
        system.Dispatchers.HasDispatcher(DispatcherId) ? Props(settings, faults).WithDispatcher(DispatcherId) : Props(settings, faults);

    /// <summary>The rollout and reward actors are part of this worker's step: any failure of theirs (a rollout that threw,
    /// a reward service that broke the protocol) escalates, so this worker fails as it would with the work inline, and its
    /// parent restarts it and redoes the step from the newest checkpoint (or ends the run when it keeps failing).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Escalate);

    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        Context.Parent.Tell(new WorkerRestarted(SupervisionLog.Cause(reason)));   // one line: a libtorch message holds its backtrace
    }

    protected override void PostStop()
    {
        step?.Dispose();
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
        step?.Dispose();
        model?.Dispose();
        objective?.Dispose();
        var device = TorchRuntime.ParseDevice(settings.Device);
        long at = 0;
        // torch's default generator is process-wide: seeding and drawing the init must not interleave with another
        // worker in this process (tests run several; dropout would need a generator per worker, see README).
        lock (RngGate)
        {
            torch.manual_seed((long)(settings.Seed & 0x7FFF_FFFF_FFFF_FFFF));
            objective = StageObjective.For(settings);
            var log = Context.GetLogger();
            objective.Warn = m => log.Warning(m);
            model = objective.BuildModel(device, fresh: msg.From is null);
            step = new GradientStep(objective.TrainableParameters(model), settings.LearningRate, settings.WeightDecay, settings.GradClip);
            if (msg.From is { } ckpt)
            {
                using (var r = new BinaryReader(new MemoryStream(ckpt.Model))) model.load(r);
                using (var r = new BinaryReader(new MemoryStream(ckpt.Optimizer))) step.Optimizer.load_state_dict(r);
                using (var rng = torch.tensor(ckpt.Rng)) torch.set_rng_state(rng);
                at = ckpt.Step;
            }
            else if (settings.ResumeFrom is { } resumeFile)
            {
                // --from-resume: a MiniMind *_resume.pth (weights and AdamW state), until this run has a checkpoint of its own
                using var resume = MiniMind.Model.Checkpoints.MiniMindResume.Read(resumeFile);
                resume.ApplyTo(model, step);
                at = settings.ResumeStep;
            }
        }
        generation = msg.Generation;
        sole = default;
        if (!rollouts.IsNobody()) rollouts.Tell(new RolloutActor.UsePolicy(generation, model));   // the rollouts use this very model from now on
        Sender.Tell(new WorkerReady(msg.Generation, at, step.Length));
    }

    void OnComputeGradients(ComputeGradients msg)
    {
        if (msg.Generation != generation) return;
        if (model is null || step is null || objective is null) throw new InvalidOperationException("ComputeGradients before Initialize");
        UseThreads();
        if (msg.Micro == 0 && faults.Take(msg.Step)) throw new InjectedFaultException($"injected fault at step {msg.Step}");
        if (faults.ComputeDelay > TimeSpan.Zero) Thread.Sleep(faults.ComputeDelay);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        if (objective is GrpoObjective grpo)
        {
            StartRollouts(msg, grpo, started);   // the learner parses the device when the scored rollouts are back
            return;
        }
        var device = TorchRuntime.ParseDevice(settings.Device);
        Learn(msg, () => objective.Loss(model, msg.Batch, msg.MicroCount, device, msg.Step), started);
    }

    /// <summary>Backward on one micro-batch's loss, then the gradient to the aggregator (and the loss, tokens and RL
    /// measurements with <see cref="GradientAggregator.MicroBatchDone"/>).</summary>
    void Learn(ComputeGradients msg, Func<torch.Tensor> lossOf, long started)
    {
        // Backward writes every element: a spare array (see ApplyGradients.Exclusive) gives the same bits as a new one.
        var gradient = spare is { } reuse && reuse.Length == step!.Length ? reuse : GC.AllocateUninitializedArray<float>(step!.Length);
        spare = null;
        sole = default;
        var loss = step.Backward(model!, lossOf, gradient);
        if (faults.LossSpikeSteps.Contains(msg.Step)) loss *= 100;
        if (msg.MicroCount == 1) sole = (msg.Step, gradient);
        computed = (msg.Step, (computed.Step == msg.Step ? computed.Elapsed : TimeSpan.Zero) + System.Diagnostics.Stopwatch.GetElapsedTime(started));
        GradientTransport.Deliver(Context.System, msg.Aggregator, msg.Step, msg.Micro, 1, gradient, Self);
        msg.Aggregator.Tell(new GradientAggregator.MicroBatchDone(msg.Step, msg.Micro, loss * msg.MicroCount, msg.Batch.Tokens, objective!.LastMetrics));
    }

    /// <summary>A GRPO micro-batch: its prompts go to the rollout actor, the completions to the reward actor, and the
    /// scored groups to <see cref="Learn"/>; until then the worker stashes everything else.</summary>
    void StartRollouts(ComputeGradients msg, GrpoObjective grpo, long started)
    {
        (pending, var rollOut) = GrpoRound.Start(++rlRequests, generation, msg, grpo, started);
        rollouts.Tell(rollOut);
        BecomeStacked(AwaitingRollouts);
    }

    /// <summary>A <see cref="GrpoRound"/> is pending: its answers move it on (<see cref="GrpoRound"/> decides), anything
    /// else waits in the stash.</summary>
    void AwaitingRollouts()
    {
        Receive<RolloutActor.RolledOut>(r => pending?.Awaits(r) == true, r =>
        {
            (pending, var score) = pending!.RolledOut(r);
            rewards.Tell(score);
        });
        Receive<RewardActor.Scored>(s => pending?.Awaits(s) == true, s =>
        {
            var p = pending!;
            pending = null;
            UseThreads();
            var rolledOut = p.Scored(s);
            var device = TorchRuntime.ParseDevice(settings.Device);
            Learn(p.Work, () => p.Grpo.Loss(model!, p.Work.MicroCount, device, rolledOut), p.Started);
            UnbecomeStacked();
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    void OnApplyGradients(ApplyGradients msg)
    {
        if (msg.Generation != generation) return;
        if (step is null) throw new InvalidOperationException("ApplyGradients before Initialize");
        UseThreads();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // A cluster of one with one micro-batch: the grads already hold the gradient, no copy back (same bits).
        var norm = step.Apply(msg.Gradient, msg.Lr, gradsHoldIt: sole.Step == msg.Step && ReferenceEquals(sole.Gradient, msg.Gradient));
        sole = default;
        if (msg.Exclusive) spare = msg.Gradient;
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started) + (computed.Step == msg.Step ? computed.Elapsed : TimeSpan.Zero);
        Sender.Tell(new StepRan(msg.Generation, msg.Step, msg.Loss, norm, msg.Tokens, elapsed, msg.Rl));
    }

    /// <summary>Perplexity opens one dispose scope per sample, in inference and eval mode (no dropout: no RNG draw); the
    /// model is back in training mode afterwards (as <see cref="GradientStep.Backward"/> sets it anyway).</summary>
    void OnEvaluate(Evaluate msg)
    {
        if (msg.Generation != generation) return;
        if (model is null) throw new InvalidOperationException("Evaluate before Initialize");
        UseThreads();
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var result = Perplexity.Evaluate(model, msg.Samples);
        model.train();
        Sender.Tell(new Evaluated(msg.Generation, msg.StepsDone, result.MeanNll, result.Tokens, result.Samples, System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    void OnSnapshot(Snapshot msg)
    {
        if (msg.Generation != generation) return;
        if (model is null || step is null) throw new InvalidOperationException("Snapshot before Initialize");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        MiniMind.Model.Native.MallocTuning.ReleaseFreeMemory();           // the snapshot takes what the last step freed
        using var scope = torch.NewDisposeScope();
        var modelBytes = ExactBytes.Of(w => model.save(w));        // no growing buffers: see ExactBytes
        var optBytes = ExactBytes.Of(w => step.Optimizer.save_state_dict(w));
        byte[] rng;
        lock (RngGate) rng = torch.get_rng_state().data<byte>().ToArray();
        Sender.Tell(new Snapshotted(msg.Generation, new TrainingCheckpoint(msg.StepsDone, modelBytes, optBytes, rng),
            System.Diagnostics.Stopwatch.GetElapsedTime(started)));
    }

    void OnExport(ExportWeights msg)
    {
        if (msg.Generation != generation) return;
        if (model is null || objective is null) throw new InvalidOperationException("ExportWeights before Initialize");
        using var scope = torch.NewDisposeScope();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(msg.Path))!);     // LoRA writes into lora/
        var tmp = Path.ChangeExtension(msg.Path, ".tmp" + Path.GetExtension(msg.Path));   // writer picks the format by extension
        objective.Export(model, tmp);
        File.Move(tmp, msg.Path, overwrite: true);
        var sha = TrainingCheckpoint.Sha256HexOfFile(msg.Path);
        Sender.Tell(new WeightsExported(msg.Generation, msg.Path, sha));
    }
}
