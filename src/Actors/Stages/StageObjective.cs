using System.Security.Cryptography;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>
/// What one training stage does inside a <see cref="GpuWorker"/>: (a) build the model to train, loading the previous
/// stage's weights on a fresh start, plus any frozen model (DPO's reference, distill's teacher); (b) the loss of one
/// micro-batch, already divided by the accumulation count; (c) write MiniMind's output file. Everything else (data
/// order, LR, clipping, AdamW, checkpoints, resume) is the same for every stage. Built per worker incarnation, used on
/// the worker's thread only; frozen models are reloaded from their files (hash-checked), never checkpointed.
/// </summary>
public abstract class StageObjective(TrainingSettings settings) : IDisposable
{
    protected TrainingSettings Settings { get; } = settings;

    /// <summary>Where the stage reports what the user should hear mid-step (GRPO: a reward service that went away);
    /// the worker sets it to its log's warnings.</summary>
    public Action<string> Warn { get; set; } = _ => { };

    public static StageObjective For(TrainingSettings settings) => settings.Stage switch
    {
        "pretrain" or "sft" => new CausalLMObjective(settings),
        "lora" => new LoraObjective(settings),
        "dpo" => new DpoObjective(settings),
        "reason" => new ReasonObjective(settings),
        "distill" => new DistillObjective(settings),
        "grpo" => new GrpoObjective(settings),
        _ => throw new ArgumentException($"unknown training stage '{settings.Stage}'"),
    };

    /// <summary>The model to train on <paramref name="device"/>, built after the caller seeded torch's RNG. When
    /// <paramref name="fresh"/> (no checkpoint to restore) it starts from <see cref="TrainingSettings.InitFrom"/>.</summary>
    public virtual MiniMindForCausalLM BuildModel(Device device, bool fresh)
    {
        var model = new MiniMindForCausalLM(Settings.Config);
        if (fresh && Settings.InitFrom is { } init) StateDictLoader.LoadFile(model, init);
        model.to(device);
        model.ComputeDType = DtypeChoice.Parse(Settings.Dtype);              // --dtype: bf16 matmuls on fp32 master weights
        return model;
    }

    /// <summary>What AdamW updates and clipping sees, in optimizer order.</summary>
    public virtual IReadOnlyList<Parameter> TrainableParameters(MiniMindForCausalLM model) =>
        model.OptimizerParameters().Where(p => p.requires_grad).ToList();

    /// <summary>One micro-batch's loss divided by <paramref name="accumulation"/>, with its graph (call backward on it).</summary>
    public abstract Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device);

    /// <summary>The loss of micro-batch of optimizer step <paramref name="step"/>: what the workers call. Stages whose
    /// loss depends on the step (GRPO seeds its rollouts with it) override this; the others ignore it.</summary>
    public virtual Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device, long step) =>
        Loss(model, batch, accumulation, device);

    /// <summary>Writes the stage's output (MiniMind's <c>{k: v.half()}</c> state dict) to <paramref name="path"/>.</summary>
    public virtual void Export(MiniMindForCausalLM model, string path) => StateDictFile.Write(path, model, StateDictWriteOptions.MiniMindHalf);

    /// <summary>What the last <see cref="Loss(MiniMindForCausalLM, DataLoader.MicroBatch, int, Device, long)"/> measured
    /// beyond the loss (GRPO: rewards, KL, lengths, latencies), or null.</summary>
    public virtual RlMetrics? LastMetrics => null;

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>X, Y (B, T) int64 and the loss weights (B, T) on <paramref name="device"/>.</summary>
    protected static (Tensor X, Tensor Y, Tensor Mask) Inputs(DataLoader.MicroBatch mb, Device device) =>
        (torch.tensor(mb.X, dtype: ScalarType.Int64).view(mb.Rows, mb.SeqLen).to(device),
         torch.tensor(mb.Y, dtype: ScalarType.Int64).view(mb.Rows, mb.SeqLen).to(device),
         torch.tensor(mb.Mask).view(mb.Rows, mb.SeqLen).to(device));

    /// <summary>The frozen model of <see cref="TrainingSettings.FrozenModelPath"/> in eval mode without gradients, after
    /// checking the file is the one the run was set up with.</summary>
    protected MiniMindForCausalLM LoadFrozen(Device device, string role)
    {
        var path = Settings.FrozenModelPath ?? throw new InvalidOperationException($"the {Settings.Stage} stage needs a {role} (FrozenModelPath)");
        if (!File.Exists(path)) throw new FileNotFoundException($"the {role} model {path} does not exist", path);
        if (Settings.FrozenModelSha256 is { } expected)
        {
            var actual = Sha256(path);
            if (actual != expected)
                throw new InvalidDataException($"the {role} model {path} changed since this {Settings.Stage} run started (sha256 {actual}, the run expects {expected}). " +
                                               "HINT: restore that file, or start over with another --run-dir.");
        }
        var config = Settings.FrozenConfigJson is { } json ? MiniMindConfig.FromJson(json, role + " config") : Settings.Config;
        var model = ModelLoader.Load(config, path, device);
        model.ComputeDType = DtypeChoice.Parse(Settings.Dtype);              // the frozen forward runs in the run's dtype too
        foreach (var p in model.parameters()) p.requires_grad = false;
        return model;
    }

    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}

/// <summary>Pretrain and full SFT (train_pretrain.py, train_full_sft.py): masked-mean CE + aux loss, with lm_head and the
/// cross-entropy chunked so that the whole logits and their gradient never exist (<see cref="Losses.ChunkedPretrainLoss"/>).</summary>
public sealed class CausalLMObjective(TrainingSettings settings) : StageObjective(settings)
{
    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device)
    {
        var (x, y, mask) = Inputs(batch, device);
        return Losses.ChunkedPretrainLoss(model, x, y, mask, accumulation);
    }
}
