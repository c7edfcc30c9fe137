using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model.Training;

/// <summary>
/// TorchSharp 0.107's AdamW step with every Scalar given a lifetime that spans its native call. The base class's
/// <c>step()</c> passes numbers where TorchSharp takes a Scalar (<c>mul_(beta1)</c>, <c>add_(grad, alpha: 1 − beta1)</c>,
/// <c>add_(eps)</c>, …): each becomes a native Scalar the GC may finalise mid-call (see <see cref="Scalars"/>). This is the
/// same sequence of the same ops on the same values, so the results are bit for bit the base class's.
/// The class is named AdamW on purpose: TorchSharp writes <c>GetType().Name</c> into <c>save_state_dict</c> and checks it
/// on load, so checkpoints of either class load into the other.
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    public AdamW(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weight_decay,
                 bool amsgrad = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad)
    {
    }

    /// <summary>The environment variable that turns the fused update off for a process (<c>MINIMIND_FUSED_ADAMW=0</c>):
    /// TorchSharp's per-parameter op sequence instead, bit for bit the same (the update alone 80.6 → 66.3 ms at load 5).</summary>
    public const string FusedSwitch = "MINIMIND_FUSED_ADAMW";

    /// <summary>The default of <see cref="Fused"/> in this process (on unless <see cref="FusedSwitch"/> opts out), read once.</summary>
    public static bool FusedByDefault { get; } = !Native.MklVendorFix.IsOptOut(Environment.GetEnvironmentVariable(FusedSwitch));

    /// <summary>Two passes and a sqrt per parameter (<see cref="AdamWKernel"/>) instead of TorchSharp's nine ops, where it applies: float32
    /// contiguous CPU tensors, no amsgrad, no maximize. Default <see cref="FusedByDefault"/>.</summary>
    public bool Fused { get; set; } = FusedByDefault;

    /// <summary>One AdamW update of every parameter that has a grad (torch.optim.AdamW, decoupled weight decay).</summary>
    public void Step() => _step<ParamGroup>(Update);

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(Update, closure);

    void Update(ParamGroup group)
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
        double weight_decay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
        bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
        using Scalar decay = (1 - lr * weight_decay).ToScalar(), b1 = beta1.ToScalar(), b2 = beta2.ToScalar();
        using Scalar oneMinusB1 = (1 - beta1).ToScalar(), oneMinusB2 = (1 - beta2).ToScalar(), epsilon = eps.ToScalar();

        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (Fused && !amsgrad && !maximize && AdamWKernel.Fits(param, grad, state.exp_avg, state.exp_avg_sq))
            {
                state.step += 1;
                AdamWKernel.Update(param, grad, state.exp_avg, state.exp_avg_sq, new AdamWKernel.Coefficients(
                    Decay: (float)(1 - lr * weight_decay), Beta1: (float)beta1, OneMinusBeta1: (float)(1 - beta1),
                    Beta2: (float)beta2, OneMinusBeta2: (float)(1 - beta2),
                    SqrtBiasCorrection2: (float)Math.Sqrt(1 - Math.Pow(beta2, state.step)), Eps: (float)eps,
                    MinusStepSize: (float)(-(lr / (1 - Math.Pow(beta1, state.step))))));
                continue;
            }
            if (maximize) grad = grad.neg();
            state.step += 1;
            param.mul_(decay);

            var bias_correction1 = 1 - Math.Pow(beta1, state.step);
            var bias_correction2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(b1).add_(grad, oneMinusB1);
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, oneMinusB2);

            using var sqrtBc2 = Math.Sqrt(bias_correction2).ToScalar();
            Tensor denom;
            if (amsgrad)
            {
                var t0 = state.max_exp_avg_sq;
                state.max_exp_avg_sq = torch.maximum(t0, state.exp_avg_sq).DetachFromDisposeScope();
                t0.Dispose();
                denom = state.max_exp_avg_sq.sqrt().div(sqrtBc2).add_(epsilon, Scalars.One);
            }
            else
            {
                denom = state.exp_avg_sq.sqrt().div(sqrtBc2).add_(epsilon, Scalars.One);
            }

            var step_size = lr / bias_correction1;
            using var minusStepSize = (-step_size).ToScalar();
            param.addcdiv_(state.exp_avg, denom, minusStepSize);
        }
    }
}
