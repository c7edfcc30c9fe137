using MiniMind.Model.Checkpoints.Pickle;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A MiniMind resume file, <c>&lt;weight&gt;_&lt;hidden&gt;[_moe]_resume.pth</c> (trainer_utils.lm_checkpoint of
/// jingyaogong/minimind d65ef2c): <c>{'model': state_dict (float16), 'optimizer': AdamW.state_dict(), 'epoch', 'step',
/// 'world_size', 'wandb_id', 'scaler'}</c>. The optimizer's <c>state</c> holds per parameter index (the order of
/// <c>model.parameters()</c>: the tied weight once, as <see cref="MiniMindForCausalLM.OptimizerParameters"/>)
/// <c>step</c>, <c>exp_avg</c> and <c>exp_avg_sq</c>. <c>step</c> counts MiniMind's loader iterations of its epoch on
/// one rank (micro-batches, not optimizer steps); <see cref="OptimizerStep"/> turns it into ours.
/// </summary>
public sealed class MiniMindResume : IDisposable
{
    /// <summary>One parameter's AdamW state.</summary>
    public sealed record AdamState(long Step, Tensor ExpAvg, Tensor ExpAvgSq);

    public string Path { get; }
    public long Epoch { get; }
    /// <summary>MiniMind's step: loader iterations done in <see cref="Epoch"/> on each rank.</summary>
    public long Step { get; }
    public long WorldSize { get; }
    public IReadOnlyList<AdamState> Optimizer { get; }
    /// <summary>The optimizer's hyperparameters in the file: betas, eps, weight decay (the learning rate follows the schedule).</summary>
    public (double Beta1, double Beta2, double Eps, double WeightDecay) Hyper { get; }

    MiniMindResume(string path, long epoch, long step, long worldSize, IReadOnlyList<AdamState> optimizer, (double, double, double, double) hyper)
    {
        Path = path;
        Epoch = epoch;
        Step = step;
        WorldSize = worldSize;
        Optimizer = optimizer;
        Hyper = hyper;
    }

    /// <summary>Reads the counters and the optimizer state (the weights are read by <see cref="ApplyTo"/>). A file
    /// that is not a MiniMind resume dict is a <see cref="CheckpointFormatException"/> naming the missing entry.</summary>
    public static MiniMindResume Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"MiniMind resume file not found: {path}", path);
        using var source = PthSource.Open(path);
        if (source.Root is not PickleDict top || source.Entry != "model")
            throw new CheckpointFormatException(path, "not a MiniMind resume dict ({'model', 'optimizer', 'epoch', 'step', …}): a weights file? use --from-weight for it");
        long Int(string key, long fallback) => top.TryGetValue(key, out var v) ? v switch
        {
            long l => l,
            null => fallback,
            _ => throw new CheckpointFormatException(path, $"'{key}' is a {PickleFormat.TypeName(v)}, expected an int"),
        } : fallback;
        var epoch = Int("epoch", 0);
        var step = Int("step", 0);
        var worldSize = Int("world_size", 1);
        if (!top.TryGetValue("optimizer", out var o) || o is not PickleDict opt)
            throw new CheckpointFormatException(path, "the resume dict has no 'optimizer' dict (AdamW.state_dict())");
        if (!opt.TryGetValue("state", out var st) || st is not PickleDict state)
            throw new CheckpointFormatException(path, "'optimizer' has no 'state' dict");
        var hyper = Hyper_(path, opt);
        var list = new List<AdamState>();
        try
        {
            for (long i = 0; i < state.Items.Count; i++)
            {
                if (!state.TryGetValue(i, out var ps) || ps is not PickleDict p)
                    throw new CheckpointFormatException(path, $"optimizer.state has no entry {i} (parameter indices must run 0..{state.Items.Count - 1})");
                Tensor Get(string name)
                {
                    if (!p.TryGetValue(name, out var t) || t is not PickledTensor pt)
                        throw new CheckpointFormatException(path, $"optimizer.state.{i} has no tensor '{name}' (not AdamW?)");
                    var tensor = source.Materialize(pt, $"optimizer.state.{i}.{name}");
                    if (tensor.dtype == ScalarType.Float32) return tensor;
                    using (tensor) return tensor.to_type(ScalarType.Float32);   // AMP runs keep fp32 state; anything else is widened
                }
                long stepOf = p.TryGetValue("step", out var s) ? s switch
                {
                    PickledTensor t => StepValue(source, t, i),
                    long l => l,
                    double d => (long)d,
                    _ => throw new CheckpointFormatException(path, $"optimizer.state.{i}.step is a {PickleFormat.TypeName(s)}"),
                } : throw new CheckpointFormatException(path, $"optimizer.state.{i} has no 'step'");
                list.Add(new AdamState(stepOf, Get("exp_avg"), Get("exp_avg_sq")));
            }
        }
        catch
        {
            foreach (var a in list) { a.ExpAvg.Dispose(); a.ExpAvgSq.Dispose(); }
            throw;
        }
        return new MiniMindResume(path, epoch, step, worldSize, list, hyper);
    }

    static long StepValue(PthSource source, PickledTensor t, long i)
    {
        using var v = source.Materialize(t, $"optimizer.state.{i}.step");
        return (long)v.to_type(ScalarType.Float64).item<double>();
    }

    static (double, double, double, double) Hyper_(string path, PickleDict opt)
    {
        if (!opt.TryGetValue("param_groups", out var g) || g is not List<object?> { Count: 1 } groups || groups[0] is not PickleDict group)
            throw new CheckpointFormatException(path, "'optimizer' needs exactly one param group (MiniMind's AdamW(model.parameters()))");
        double Num(string key, double fallback) => group.TryGetValue(key, out var v) ? v switch { double d => d, long l => l, _ => fallback } : fallback;
        var betas = group.TryGetValue("betas", out var b) && b is object?[] { Length: 2 } pair ? pair : [0.9, 0.999];
        double AsDouble(object? v) => v switch { double d => d, long l => l, _ => double.NaN };
        return (AsDouble(betas[0]), AsDouble(betas[1]), Num("eps", 1e-8), Num("weight_decay", 0.01));
    }

    /// <summary>Loads the file's weights (float16 → the model's dtype, tie restored) into <paramref name="model"/> and
    /// its AdamW state into <paramref name="step"/>'s optimizer, parameter by parameter (checked by shape).</summary>
    public void ApplyTo(MiniMindForCausalLM model, GradientStep step)
    {
        StateDictLoader.LoadFile(model, Path);
        if (Optimizer.Count != step.Parameters.Count)
            throw new StateDictMismatchException(Path, [], [], [], [$"the optimizer state has {Optimizer.Count} parameters, the model {step.Parameters.Count}"]);
        var (b1, b2, eps, wd) = Hyper;
        var dict = step.Optimizer.state_dict();
        var ours = dict.Options.FirstOrDefault() as AdamW.Options;
        if (ours is not null && (b1 != ours.beta1 || b2 != ours.beta2 || eps != ours.eps || wd != ours.weight_decay))
            throw new CheckpointFormatException(Path, $"its AdamW has betas ({b1}, {b2}), eps {eps}, weight decay {wd}; this trainer uses ({ours.beta1}, {ours.beta2}), {ours.eps}, {ours.weight_decay}");
        var states = dict.State;
        using var _ = torch.no_grad();
        for (var i = 0; i < Optimizer.Count; i++)
        {
            var p = step.Parameters[i];
            var from = Optimizer[i];
            if (!from.ExpAvg.shape.SequenceEqual(p.shape))
                throw new StateDictMismatchException(Path, [], [], [new ShapeMismatch($"optimizer.state.{i}.exp_avg", from.ExpAvg.shape, p.shape)], []);
            var into = (AdamW.State)states[i];
            into.step = from.Step;
            into.exp_avg.copy_(from.ExpAvg);
            into.exp_avg_sq.copy_(from.ExpAvgSq);
        }
    }

    /// <summary>Our optimizer step for MiniMind's counters: the samples its run consumed (<see cref="Step"/> loader
    /// iterations of <paramref name="batchSize"/> on each of <see cref="WorldSize"/> ranks, after <see cref="Epoch"/>
    /// whole epochs of <paramref name="stepsPerEpoch"/> of our steps) over our global batch (batch × accumulation), as
    /// MiniMind rescales its step when the world size changes. Returns a note when anything was rescaled or dropped.</summary>
    public (long Step, string? Note) OptimizerStep(int batchSize, int accumulation, long stepsPerEpoch) =>
        OptimizerStepFor(Epoch, Step, WorldSize, batchSize, accumulation, stepsPerEpoch);

    /// <summary><see cref="OptimizerStep"/> for given counters.</summary>
    public static (long Step, string? Note) OptimizerStepFor(long epoch, long step, long worldSize, int batchSize, int accumulation, long stepsPerEpoch)
    {
        var samples = step * worldSize * batchSize;
        var global = (long)batchSize * accumulation;
        var inEpoch = samples / global;
        var ours = epoch * stepsPerEpoch + inEpoch;
        var dropped = samples - inEpoch * global;
        if (worldSize == 1 && accumulation == 1) return (ours, null);   // MiniMind's step is then ours
        var note = $"MiniMind's step {step} × world size {worldSize} × batch {batchSize} = {samples} samples of epoch {epoch + 1} " +
                   $"→ step {inEpoch} of batch {batchSize} × accumulation {accumulation} here" +
                   (dropped > 0 ? $" ({dropped} samples of an unfinished accumulation are redone)" : "");
        return (ours, note);
    }

    public void Dispose()
    {
        foreach (var a in Optimizer)
        {
            a.ExpAvg.Dispose();
            a.ExpAvgSq.Dispose();
        }
    }
}
