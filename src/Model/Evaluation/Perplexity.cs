using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model.Evaluation;

/// <summary>Held-out perplexity with the training loss's numerics (<see cref="Losses.MaskedCrossEntropy"/>: float32
/// per-token cross-entropy, weighted by the loss mask), summed over all samples: exp(Σ CE·mask / Σ mask).</summary>
public static class Perplexity
{
    public static PerplexityResult Evaluate(MiniMindForCausalLM model, IEnumerable<EvalSample> samples)
    {
        var device = model.parameters().First().device;
        double total = 0;
        long tokens = 0;
        var count = 0;
        model.eval();
        foreach (var s in samples)
        {
            count++;
            // Targets after the last scored one cannot change the scored logits (causal attention): leave them out.
            var end = Array.LastIndexOf(s.LossMask, 1) + 1;
            if (end == 0) continue;
            using var inference = inference_mode();
            using var scope = NewDisposeScope();
            var x = tensor(s.X.Take(end).Select(i => (long)i).ToArray(), [1, end], device: device);          // (1, T)
            var y = tensor(s.Y.Take(end).Select(i => (long)i).ToArray(), [end], device: device);             // (T)
            var mask = tensor(s.LossMask.Take(end).Select(i => (double)i).ToArray(), [end], device: device);  // (T)
            var logits = model.call(x).logits;                                                                // (1, T, V)
            var ce = F.cross_entropy(logits[0].to_type(ScalarType.Float32), y, reduction: nn.Reduction.None); // (T)
            total += (ce.to_type(ScalarType.Float64) * mask).sum().item<double>();
            tokens += s.LossMask.Take(end).Sum();
        }
        return new PerplexityResult(total, tokens, count);
    }
}
