using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace MiniMind.Model;

/// <summary>The loss of MiniMind's pretrain/SFT step (train_pretrain.py): Σ(CE·mask)/Σmask + aux_loss, divided by
/// the accumulation steps.</summary>
public static class Losses
{
    /// <summary>Σ(CE·mask)/Σmask over (B, T) positions: per-token cross-entropy of logits (B, T, V) against labels (B, T),
    /// weighted by loss_mask (B, T) of 0/1. A batch without loss tokens gives 0 (MiniMind's 0/0 would be NaN and poison
    /// the weights); Σmask ≥ 1 is unchanged by the clamp, so every other result is bit for bit MiniMind's.</summary>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor labels, Tensor loss_mask)
    {
        using var scope = NewDisposeScope();
        var ce = TokenCrossEntropy(logits, labels);
        var loss = (ce * loss_mask).sum() / loss_mask.sum().clamp_min(Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Per-position cross-entropy (B, T) of logits (B, T, V) against labels (B, T), always in float32, as
    /// autocast does (logits are bf16 under mixed precision).</summary>
    public static Tensor TokenCrossEntropy(Tensor logits, Tensor labels)
    {
        var V = logits.shape[^1];
        return F.cross_entropy(logits.reshape(-1, V).to_type(ScalarType.Float32), labels.reshape(-1), reduction: nn.Reduction.None).view(labels.shape);
    }

    /// <summary>The logits of one chunk are kept at most this size (float32): B8×T512 minimind2-small (105 MB of logits)
    /// runs in 26 chunks, the tiny main job (B16×T128, 52 MB) in 13. Below glibc's mmap threshold as set at start-up
    /// (8 MiB, <see cref="Native.MallocTuning"/>) with room for the chunk's softmax and gradient blocks, so they are
    /// reused from the heap, not faulted in every step.</summary>
    public const long LogitChunkBytes = 4L << 20;

    /// <summary>Rows (positions) per chunk for <paramref name="rows"/> positions over a vocabulary of <paramref name="vocab"/>:
    /// as few equal chunks as hold at most <see cref="LogitChunkBytes"/> of float32 logits each (at least one row).</summary>
    public static long ChunkRows(long rows, long vocab)
    {
        var maxRows = Math.Max(1, LogitChunkBytes / (vocab * sizeof(float)));
        var chunks = Math.Max(1, (rows + maxRows - 1) / maxRows);
        return (rows + chunks - 1) / chunks;
    }

    /// <summary>
    /// <see cref="MaskedCrossEntropy"/> of <c>head(hidden)</c> with the same value and gradients, without ever holding the
    /// logits of all positions, or their gradient: the positions go through <paramref name="head"/> and the
    /// cross-entropy <paramref name="chunkRows"/> at a time, and each chunk's backward runs at once (on detached copies of
    /// the chunk and of the head's weight), leaving only dLoss/dhidden (B, T, h) and dLoss/dW (vocab, h). The result's
    /// value is Σ(CE·mask)/Σmask from the chunks' CE values (the same reduction as MaskedCrossEntropy); its graph is
    /// <c>s − s.detach()</c> with <c>s = Σ hidden·dhidden + Σ W·dW</c>, which is exactly 0 and whose gradient is exactly
    /// dhidden and dW, so backward (and any scaling after it, such as the accumulation divide) reaches the model as if
    /// the whole logits had been built. The gradient of each CE element is the one autograd gives the unchunked loss
    /// ((1/Σmask)·mask); only the matmuls' summation order differs. B8×T512 minimind2-small: ~0.3 GB less at the peak.
    /// </summary>
    /// <param name="hidden">(B, T, h): the final hidden states, with their graph.</param>
    /// <param name="head">lm_head, applied as <see cref="Projection.Forward"/> with a detached alias of its weight.</param>
    /// <param name="chunkRows">positions per chunk; 0 picks <see cref="ChunkRows"/>.</param>
    public static Tensor ChunkedMaskedCrossEntropy(Tensor hidden, Projection head, Tensor labels, Tensor loss_mask, long chunkRows = 0)
    {
        using var scope = NewDisposeScope();
        var H = hidden.shape[^1];
        var rows = labels.numel();
        if (chunkRows <= 0) chunkRows = ChunkRows(rows, head.OutFeatures);
        var weight = head.Weight;
        var hiddenGrad = hidden.requires_grad && torch.is_grad_enabled();
        var weightGrad = weight.requires_grad && torch.is_grad_enabled();
        var h2 = hidden.detach().reshape(rows, H);
        var y = labels.reshape(rows);
        var denominator = loss_mask.sum().clamp_min(Scalars.One);
        // What autograd sends into each CE element of Σ(CE·mask)/Σmask: the seed 1 divided by Σmask, times the mask.
        var ceGrad = loss_mask.reshape(rows).to_type(ScalarType.Float32).mul(torch.ones([], dtype: ScalarType.Float32, device: hidden.device).div(denominator));
        using var w = weight.detach().requires_grad_(weightGrad);
        var ceParts = new List<Tensor>();
        var hiddenGradParts = new List<Tensor>();
        for (long start = 0; start < rows; start += chunkRows)
        {
            var end = Math.Min(rows, start + chunkRows);
            using var chunkScope = NewDisposeScope();
            var hc = h2[TensorIndex.Slice(start, end)].detach().requires_grad_(hiddenGrad);
            var ce = F.cross_entropy(head.Forward(hc, w).to_type(ScalarType.Float32), y[TensorIndex.Slice(start, end)], reduction: nn.Reduction.None);
            if (hiddenGrad || weightGrad)
            {
                ce.backward([ceGrad[TensorIndex.Slice(start, end)]]);
                if (hiddenGrad) hiddenGradParts.Add(hc.grad!.detach().MoveToOuterDisposeScope());
            }
            ceParts.Add(ce.detach().MoveToOuterDisposeScope());
        }
        var ceAll = cat(ceParts, 0).view(labels.shape);
        var value = (ceAll * loss_mask).sum() / denominator;
        Tensor? s = null;
        if (hiddenGrad) s = hidden.mul(cat(hiddenGradParts, 0).view(hidden.shape)).sum();
        if (weightGrad && w.grad is { } wGrad)
        {
            var sw = weight.mul(wGrad.detach()).sum();
            s = s is null ? sw : s.add(sw, Scalars.One);
        }
        if (s is not null) value = value.add(s.sub(s.detach()), Scalars.One);
        return value.MoveToOuterDisposeScope();
    }

    /// <summary><see cref="PretrainLoss(CausalLMOutput, Tensor, Tensor, int)"/> of <paramref name="model"/> on
    /// <paramref name="input_ids"/>, with the lm_head and the cross-entropy chunked (<see cref="ChunkedMaskedCrossEntropy"/>):
    /// what the pretrain and SFT workers train with.</summary>
    public static Tensor ChunkedPretrainLoss(MiniMindForCausalLM model, Tensor input_ids, Tensor labels, Tensor loss_mask, int accumulation_steps = 1, long chunkRows = 0)
    {
        using var scope = NewDisposeScope();
        var output = model.Model.call(input_ids);
        return WithAuxPerStep(ChunkedMaskedCrossEntropy(output.hidden, model.LmHead, labels, loss_mask, chunkRows), output.aux_loss, accumulation_steps)
            .MoveToOuterDisposeScope();
    }

    /// <summary>MiniMind's training loss: masked-mean CE + aux_loss, divided by accumulation_steps.</summary>
    public static Tensor PretrainLoss(CausalLMOutput output, Tensor labels, Tensor loss_mask, int accumulation_steps = 1)
    {
        using var scope = NewDisposeScope();
        return WithAuxPerStep(MaskedCrossEntropy(output.logits, labels, loss_mask), output.aux_loss, accumulation_steps).MoveToOuterDisposeScope();
    }

    /// <summary>MiniMind's tail of the loss: <paramref name="ce"/> + aux_loss, divided by accumulation_steps.</summary>
    static Tensor WithAuxPerStep(Tensor ce, Tensor aux_loss, int accumulation_steps)
    {
        var loss = ce.add(aux_loss, Scalars.One);
        if (accumulation_steps == 1) return loss;
        using var steps = accumulation_steps.ToScalar();
        return loss.div(steps);
    }
}
