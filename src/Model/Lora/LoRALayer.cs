using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>MiniMind's LoRA class, the low-rank adapter (model/model_lora.py): B(A(x)) with A ~ N(0, 0.02) and B = 0, no scaling.</summary>
public sealed class LoRALayer : nn.Module<Tensor, Tensor>
{
    readonly Projection A;                                                        // weight (rank, in)
    readonly Projection B;                                                        // weight (out, rank)

    public LoRALayer(long in_features, long out_features, int rank) : base(nameof(LoRALayer))
    {
        A = new Projection(in_features, rank);
        B = new Projection(rank, out_features);
        using (no_grad())
        {
            nn.init.normal_(A.Weight, 0.0, 0.02);
            nn.init.zeros_(B.Weight);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var a = A.call(x);
        return B.call(a);
    }
}
