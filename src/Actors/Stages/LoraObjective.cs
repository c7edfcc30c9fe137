using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>train_lora.py: the SFT model with MiniMind's rank-8 adapters on every square Linear (<see cref="Lora.Apply"/>);
/// only the adapters train (AdamW and clipping see only them) with the SFT loss. The output holds only the adapter
/// tensors, float32, keyed as save_lora does (<c>&lt;module&gt;.lora.{A,B}.weight</c>). Checkpoints hold the whole
/// model, so a resume needs no SFT file.</summary>
public sealed class LoraObjective(TrainingSettings settings) : StageObjective(settings)
{
    public override MiniMindForCausalLM BuildModel(Device device, bool fresh)
    {
        var model = base.BuildModel(device, fresh);
        Lora.Apply(model, Settings.LoraRank);
        Lora.FreezeAllButLora(model);
        model.ComputeDType = DtypeChoice.Parse(Settings.Dtype);              // again, so that the new adapters get it
        return model;
    }

    public override IReadOnlyList<Parameter> TrainableParameters(MiniMindForCausalLM model) =>
        Lora.NamedParameters(model).Select(p => p.parameter).ToList();

    public override Tensor Loss(MiniMindForCausalLM model, DataLoader.MicroBatch batch, int accumulation, Device device)
    {
        var (x, y, mask) = Inputs(batch, device);
        return Losses.PretrainLoss(model.call(x), y, mask, accumulation);
    }

    public override void Export(MiniMindForCausalLM model, string path) => StateDictFile.Write(path, Lora.StateDict(model));
}
