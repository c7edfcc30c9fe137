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

    /// <summary>gate and up in one matmul over the concatenated (2·ffn, h) weight, split after (default:
    /// <see cref="Fusion.GateUp"/>); the parameters stay gate_proj/up_proj. A LoRA-adapted projection falls back.</summary>
    public bool FusedGateUp { get; set; } = Fusion.GateUp;

    public override Tensor forward(Tensor x)
    {
        if (FusedGateUp && !gate_proj.Adapted && !up_proj.Adapted)
        {
            using var gateUp = Projection.Fused(x, gate_proj, up_proj);      // (…, 2·ffn)
            var halves = gateUp.chunk(2, -1);
            using var g = halves[0];
            using var u = halves[1];
            using var a = F.silu(g);
            using var hh = a * u;
            using var d = down_proj.call(hh);
            return dropout.call(d);
        }
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
