using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>The router's decision for N = B·T tokens: expert ids and weights (N, k), and the aux loss
/// (a scalar; 0 outside training or when α = 0).</summary>
public sealed record GateOutput(Tensor topk_idx, Tensor topk_weight, Tensor aux_loss);

/// <summary>MoE router: softmax scores over experts, top-k (unsorted), weights renormalised only when k &gt; 1 and
/// norm_topk_prob (with k = 1 the expert's output is scaled by its raw probability), and in training (α &gt; 0) the
/// load-balancing aux loss.</summary>
public sealed class MoEGate : nn.Module<Tensor, GateOutput>
{
    readonly int top_k, n_routed_experts;
    readonly double alpha;
    readonly bool seq_aux, norm_topk_prob;
    readonly Parameter weight;                                                // (E, h)
    readonly Scalar alphaScalar, experts;                                     // α and E, made once (see Scalars)

    public MoEGate(MiniMindConfig config) : base(nameof(MoEGate))
    {
        top_k = config.NumExpertsPerTok;
        n_routed_experts = config.NRoutedExperts;
        alpha = config.AuxLossAlpha;
        seq_aux = config.SeqAux;
        norm_topk_prob = config.NormTopkProb;
        alphaScalar = alpha.ToScalar();
        experts = n_routed_experts.ToScalar();
        weight = nn.Parameter(torch.empty(n_routed_experts, config.HiddenSize));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        RegisterComponents();
    }

    public override GateOutput forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long B = hidden.shape[0], T = hidden.shape[1], h = hidden.shape[2];
        var x = hidden.view(-1, h);                                           // (N, h)
        var scores = F.linear(x, weight).softmax(-1);                         // (N, E)
        var (topk_weight, topk_idx) = scores.topk(top_k, dim: -1, largest: true, sorted: false);  // (N, k)
        // Renormalise only when k > 1; with k = 1 the raw softmax probability stays.
        if (top_k > 1 && norm_topk_prob)
            topk_weight = topk_weight / topk_weight.sum(-1, keepdim: true).add(Scalars.Tiny, Scalars.One);

        var aux_loss = training && alpha > 0.0 ? AuxLoss(scores, topk_idx, B, T) : zeros([], dtype: hidden.dtype, device: hidden.device);
        return new GateOutput(topk_idx.MoveToOuterDisposeScope(), topk_weight.MoveToOuterDisposeScope(), aux_loss.MoveToOuterDisposeScope());
    }

    /// <summary>The load-balancing aux loss with seq_aux: ce[b,e] = count of (token, slot) of sequence b routed to e / (T·k/E),
    /// aux = α · mean_b Σ_e ce[b,e] · mean_t scores[b,t,e]. Otherwise the batch-level f·P form. ce carries no gradient.</summary>
    Tensor AuxLoss(Tensor scores, Tensor topk_idx, long B, long T)
    {
        var idx = topk_idx.view(B, -1);                                       // (B, T·k)
        if (seq_aux)
        {
            using var perExpert = (T * top_k / (double)n_routed_experts).ToScalar();
            var ce = zeros(B, n_routed_experts, dtype: scores.dtype, device: scores.device)
                .scatter_add_(1, idx, ones(B, T * top_k, dtype: scores.dtype, device: scores.device))
                .div_(perExpert);                                             // (B, E)
            var meanScores = scores.view(B, T, -1).mean([1L]);                 // (B, E)
            return (ce * meanScores).sum(1).mean().mul(alphaScalar);
        }
        var ce1 = F.one_hot(idx.view(-1), n_routed_experts).to_type(ScalarType.Float32).mean([0L]);  // (E)
        var Pi = scores.mean([0L]);
        return (Pi * ce1.mul(experts)).sum().mul(alphaScalar);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            alphaScalar.Dispose();
            experts.Dispose();
        }
        base.Dispose(disposing);
    }
}
