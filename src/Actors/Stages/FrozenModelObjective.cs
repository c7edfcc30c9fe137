using MiniMind.Model;
using static TorchSharp.torch;

namespace MiniMind.Actors.Stages;

/// <summary>A stage that trains one model against a second, frozen one (DPO's reference, distillation's teacher):
/// the frozen model is (re)loaded from <see cref="TrainingSettings.FrozenModelPath"/> whenever the trained one is
/// built, hash-checked, in eval mode without gradients, and never checkpointed.</summary>
public abstract class FrozenModelObjective(TrainingSettings settings, string role) : StageObjective(settings)
{
    MiniMindForCausalLM? frozen;

    /// <summary>The frozen model; available after <see cref="BuildModel"/>.</summary>
    protected MiniMindForCausalLM Frozen => frozen ?? throw new InvalidOperationException($"the {role} is used before BuildModel");

    public override MiniMindForCausalLM BuildModel(Device device, bool fresh)
    {
        var trained = base.BuildModel(device, fresh);
        frozen?.Dispose();
        frozen = LoadFrozen(device, role);
        return trained;
    }

    public override void Dispose()
    {
        frozen?.Dispose();
        base.Dispose();
    }
}
