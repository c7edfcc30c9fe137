using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>SwiGLU: dropout(down(silu(gate(x)) · up(x))). Also each MoE expert.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>, IDecodeOne
{
    // MiniMind's declaration (and state_dict) order: gate_proj, down_proj, up_proj.
    readonly Projection gate_proj, down_proj, up_proj;
    readonly Dropout dropout;

    public FeedForward(MiniMindConfig config) : base(nameof(FeedForward))
    {
        gate_proj = new Projection(config.HiddenSize, config.FfnSize);
        down_proj = new Projection(config.FfnSize, config.HiddenSize);
        up_proj = new Projection(config.HiddenSize, config.FfnSize);
        dropout = nn.Dropout(config.Dropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var gate = gate_proj.call(x);
        using var act = F.silu(gate);
        using var up = up_proj.call(x);
        using var h = act * up;
        using var down = down_proj.call(h);
        return dropout.call(down);
    }

    /// <summary>down(silu(gate(x)) · up(x)) for one vector (h), eval (no dropout).</summary>
    public Tensor DecodeOne(Tensor x) =>
        down_proj.DecodeOne(F.silu(gate_proj.DecodeOne(x)).mul_(up_proj.DecodeOne(x)));
}
