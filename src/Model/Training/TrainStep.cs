using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>What one step measured: the total loss, its two parts, and the pre-clip gradient norm.</summary>
public sealed record TrainStepResult(double Loss, double CeLoss, double AuxLoss, double GradNorm);

/// <summary>One MiniMind optimisation step on a batch, as train_pretrain.py runs it with accumulation 1:
/// forward in train mode, masked CE + aux loss, backward, clip_grad_norm_(1.0) (item 9), AdamW (item 10).
/// The optimiser gets the unique parameters (the tied weight once) that require grad.</summary>
public sealed class TrainStep : IDisposable
{
    readonly MiniMindForCausalLM model;
    readonly double clip;

    public optim.Optimizer Optimizer { get; }

    /// <param name="learning_rate">constant LR (MiniMind's own schedule is the caller's business, item 11).</param>
    /// <param name="weight_decay">0.01 = torch's AdamW default; TorchSharp's default is 0, so it is explicit here.</param>
    public TrainStep(MiniMindForCausalLM model, double learning_rate = 5e-4, double weight_decay = 0.01,
                     double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double clip = 1.0)
    {
        this.model = model;
        this.clip = clip;
        Parameters = model.OptimizerParameters().Where(p => p.requires_grad).ToList();
        Optimizer = optim.AdamW(Parameters, lr: learning_rate, beta1: beta1, beta2: beta2, eps: eps, weight_decay: weight_decay);
    }

    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Sets the LR of every parameter group (e.g. from <see cref="LearningRate.MiniMindCosine"/>) before a step.</summary>
    public void SetLearningRate(double lr)
    {
        foreach (var group in Optimizer.ParamGroups) group.LearningRate = lr;
    }

    /// <summary>Runs the step inside one dispose scope; only .NET numbers leave it.</summary>
    public TrainStepResult Run(Tensor input_ids, Tensor labels, Tensor loss_mask)
    {
        using var scope = NewDisposeScope();
        model.train();
        Optimizer.zero_grad();
        var output = model.call(input_ids);
        var ce = Losses.MaskedCrossEntropy(output.logits, labels, loss_mask);
        var loss = ce + output.aux_loss;
        loss.backward();
        var norm = nn.utils.clip_grad_norm_(Parameters, clip);
        Optimizer.step();
        return new TrainStepResult(loss.item<float>(), ce.item<float>(), output.aux_loss.item<float>(), norm);
    }

    /// <summary>Forward + loss + backward only (no clip, no update): for inspecting gradients.</summary>
    public double Backward(Tensor input_ids, Tensor labels, Tensor loss_mask)
    {
        using var scope = NewDisposeScope();
        model.train();
        Optimizer.zero_grad();
        var output = model.call(input_ids);
        var loss = Losses.PretrainLoss(output, labels, loss_mask);
        loss.backward();
        return loss.item<float>();
    }

    public void Dispose() => Optimizer.Dispose();
}
