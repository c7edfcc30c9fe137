using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Mixture of experts: routed SwiGLU experts chosen by <see cref="MoEGate"/>, plus always-on shared experts.
/// Training and eval use different code paths, exactly as MiniMind does: eval groups tokens by expert and scatter-adds
/// into a float32 buffer; training repeats each token k times into a float16 buffer, so expert outputs (and the
/// gradients through them) are rounded to float16.</summary>
public sealed class MOEFeedForward : nn.Module<Tensor, Tensor>, IDecodeOne
{
    readonly int top_k;
    readonly Scalar topK;                                                     // k as a Scalar, made once (see Scalars)
    // MiniMind's declaration (and state_dict) order: experts, gate, shared_experts.
    readonly ModuleList<FeedForward> experts;
    readonly MoEGate gate;
    readonly ModuleList<FeedForward> shared_experts;

    /// <summary>The last forward's aux loss (MiniMind keeps it in self.aux_loss). Not a registered buffer.</summary>
    public Tensor AuxLoss => _aux.Value ?? throw new InvalidOperationException("MOEFeedForward: no forward has run yet");
    readonly AuxSlot _aux = new();

    public MOEFeedForward(MiniMindConfig config) : base(nameof(MOEFeedForward))
    {
        top_k = config.NumExpertsPerTok;
        topK = top_k.ToScalar();
        experts = nn.ModuleList(Enumerable.Range(0, config.NRoutedExperts).Select(_ => new FeedForward(config)).ToArray());
        gate = new MoEGate(config);
        shared_experts = nn.ModuleList(Enumerable.Range(0, config.NSharedExperts).Select(_ => new FeedForward(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>One vector (h) through the eval path as (1, 1, h).</summary>
    public Tensor DecodeOne(Tensor x) => call(x.view(1, 1, -1)).view(-1);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long h = x.shape[^1];
        var routing = gate.call(x);
        var flat_x = x.view(-1, h);                                           // (N, h)
        var flat_idx = routing.topk_idx.view(-1);                             // (N·k)
        var y = training
            ? TrainPath(flat_x, flat_idx, routing.topk_weight)
            : InferPath(flat_x, flat_idx, routing.topk_weight.view(-1, 1));
        y = y.view(x.shape);
        foreach (var expert in shared_experts)
            y = y.add(expert.call(x), Scalars.One);                                           // shared experts: unweighted, as MiniMind adds them
        _aux.Value = routing.aux_loss.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>The train path: every token is repeated k times and each expert's float32 output is stored into
    /// a float16 buffer (MiniMind's torch.empty_like(x, dtype=torch.float16)). The weighted sum is float32.
    /// The rounding (and float16 gradients through it) is reproduced on purpose: train_loss and grads match it.</summary>
    Tensor TrainPath(Tensor flat_x, Tensor flat_idx, Tensor topk_weight)
    {
        var xr = flat_x.repeat_interleave(top_k, dim: 0);                    // (N·k, h)
        var y = empty_like(xr, dtype: ScalarType.Float16);                   // (N·k, h) float16
        for (var i = 0; i < experts.Count; i++)
        {
            using var expert = i.ToScalar();
            var mask = flat_idx.eq(expert);
            y.index_put_(experts[i].call(xr[mask]).to_type(ScalarType.Float16), mask);
        }
        var n = topk_weight.shape[0];
        return (y.view(n, top_k, -1) * topk_weight.unsqueeze(-1)).sum(1);   // (N, h) float32
    }

    /// <summary>The eval path (moe_infer, no_grad): tokens grouped by expert in ascending expert order, each output
    /// scaled by its weight and added into a float32 zero buffer.</summary>
    Tensor InferPath(Tensor flat_x, Tensor flat_idx, Tensor flat_weight)
    {
        using var noGrad = no_grad();
        var cache = zeros_like(flat_x);                                      // (N, h)
        for (var i = 0; i < experts.Count; i++)
        {
            using var expert = i.ToScalar();
            var slots = flat_idx.eq(expert).nonzero().flatten();             // positions in (N·k), ascending
            if (slots.shape[0] == 0) continue;
            var tokens = slots.floor_divide(topK);                            // token of each slot
            var out_ = experts[i].call(flat_x[tokens]) * flat_weight[slots];  // (n_i, h)
            cache.index_add_(0, tokens, out_, Scalars.One);
        }
        return cache;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) topK.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Holds the aux loss outside the module's field scan (a Tensor field would be registered as a buffer).</summary>
    sealed class AuxSlot { public Tensor? Value; }
}
