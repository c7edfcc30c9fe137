using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>
/// The training step's tensor work, in the two halves a cluster runs on different actors (and machines):
/// <see cref="Backward"/> turns one micro-batch into a flat float32 gradient, and <see cref="Apply"/> takes the sum of
/// a step's gradients, sets it as the parameters' grads, clips (clip_grad_norm_) and steps AdamW, as MiniMind's trainer
/// does after its accumulation loop. Between the halves the caller sums the micro-batch gradients in a fixed order
/// (the actors' MicroReduction tree); with one micro-batch the sum is the gradient itself.
/// The optimizer gets the unique parameters (the tied weight once) that require grad, in a fixed order: that order is
/// the layout of a flat gradient. Each call does its tensor work inside one dispose scope; only .NET values leave.
/// </summary>
public sealed class GradientStep : IDisposable
{
    readonly double clip;

    /// <param name="weight_decay">0.01 is torch's AdamW default; TorchSharp's default is 0, so it is always explicit.</param>
    /// <param name="clip">max_norm of clip_grad_norm_ (MiniMind: 1.0).</param>
    public GradientStep(IReadOnlyList<Parameter> parameters, double learning_rate, double weight_decay, double clip = 1.0,
                        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        this.clip = clip;
        Parameters = parameters;
        Length = checked((int)parameters.Sum(p => p.numel()));
        Optimizer = new Training.AdamW(parameters, lr: learning_rate, beta1: beta1, beta2: beta2, eps: eps, weight_decay: weight_decay);
    }

    /// <summary>A step over the model's unique parameters that require grad.</summary>
    public static GradientStep For(MiniMindForCausalLM model, double learning_rate = 5e-4, double weight_decay = 0.01, double clip = 1.0) =>
        new([.. model.OptimizerParameters().Where(p => p.requires_grad)], learning_rate, weight_decay, clip);

    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>TorchSharp's AdamW with explicit Scalar lifetimes (<see cref="Training.AdamW"/>); its state files are TorchSharp's.</summary>
    public Training.AdamW Optimizer { get; }

    /// <summary>Floats in a flat gradient: the parameters' elements, in optimizer order.</summary>
    public int Length { get; }

    /// <summary>Zeroes the grads, runs <paramref name="loss"/> (forward + loss of one micro-batch, already divided by
    /// the accumulation count) in train mode, backward, and copies the gradient into <paramref name="into"/>
    /// (<see cref="Length"/> floats). The grads stay set (for inspection) until the next call. Returns the loss value.</summary>
    public float Backward(nn.Module model, Func<Tensor> loss, Span<float> into)
    {
        GradsHoldAll = false;
        if (into.Length != Length) throw new ArgumentException($"the gradient needs {Length} floats, got {into.Length}", nameof(into));
        using var scope = NewDisposeScope();
        model.train();
        Optimizer.zero_grad();
        var value = loss();
        value.backward();
        var offset = 0;
        foreach (var p in Parameters)
        {
            var n = (int)p.numel();
            var target = into.Slice(offset, n);
            if (p.grad is { } g) g.to_type(ScalarType.Float32).cpu().contiguous().data<float>().CopyTo(target);
            else target.Clear();
            offset += n;
        }
        GradsHoldAll = Parameters.All(p => p.grad is { } g && g.dtype == ScalarType.Float32 && g.device_type == DeviceType.CPU);
        return value.item<float>();
    }

    /// <summary>True after <see cref="Backward"/> when every parameter got a float32 CPU grad, which then holds exactly
    /// the flat gradient it wrote (until the next Backward or Apply).</summary>
    public bool GradsHoldAll { get; private set; }

    /// <summary>Sets <paramref name="gradient"/> (a flat sum in the layout of <see cref="Backward"/>) as the grads,
    /// clips their global norm to the clip value, steps AdamW at <paramref name="lr"/> and drops the grads (none, not zeros).
    /// <paramref name="gradient"/> is copied once and never changed. Returns the pre-clip norm.</summary>
    /// <param name="gradsHoldIt">the caller knows the grads already hold <paramref name="gradient"/> bit for bit: the flat
    /// gradient of the last <see cref="Backward"/> itself, unchanged (one micro-batch, one replica), and
    /// <see cref="GradsHoldAll"/>. The copy (one float per parameter) is skipped then.</param>
    public double Apply(ReadOnlySpan<float> gradient, double lr, bool gradsHoldIt = false)
    {
        var skipCopy = gradsHoldIt && GradsHoldAll;
        GradsHoldAll = false;
        if (gradient.Length != Length) throw new ArgumentException($"the gradient has {gradient.Length} floats, expected {Length}", nameof(gradient));
        using var scope = NewDisposeScope();
        foreach (var g in Optimizer.ParamGroups) g.LearningRate = lr;
        // One copy, straight into the grads (made here when the last step dropped them).
        var offset = 0;
        using (torch.no_grad())
            foreach (var p in skipCopy ? Array.Empty<Parameter>() : Parameters)
            {
                var n = (int)p.numel();
                var slice = gradient.Slice(offset, n);
                if (p.grad is not { } g)
                {
                    p.grad = torch.zeros_like(p).DetachFromDisposeScope();
                    g = p.grad!;
                }
                if (g.dtype == ScalarType.Float32 && g.device_type == DeviceType.CPU && g.is_contiguous()) g.data<float>().CopyFrom(slice, 0, 0);
                else g.copy_(torch.tensor(slice.ToArray()).view(p.shape));
                offset += n;
            }
        var norm = nn.utils.clip_grad_norm_(Parameters, clip);
        Optimizer.Step();
        // Grads to none (torch's zero_grad(set_to_none=True)), not zeros: they are not held through the next forward
        // (103 MB for minimind2-small at its peak); the next backward makes them anew (Backward's zero_grad then has none to zero).
        foreach (var p in Parameters) p.grad = null;
        return norm;
    }

    public void Dispose() => Optimizer.Dispose();
}
