// A C# port of MiniMindForCausalLM from jingyaogong/minimind @ 561979c7e34ed48bce320598952d892dce33ccd6
// (model/model_minimind.py, blob 4b436106fb). The behaviours the comments in this folder spell out are those
// the PyTorch fixtures (../shared/fixtures/model) check.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Logits (B, T', vocab), the MoE aux loss (scalar), the new KV cache (null unless use_cache),
/// and the final hidden states (B, T, h).</summary>
public sealed record CausalLMOutput(Tensor logits, Tensor aux_loss, KVCache? past_key_values, Tensor hidden);

/// <summary>MiniMind's language model: <c>model</c> (the backbone) and <c>lm_head</c>, with the embedding tied to
/// lm_head's weight the way MiniMind ties it: one tensor, initialised by lm_head's kaiming-uniform init (the
/// embedding's N(0, 1) init is discarded), whose gradient sums both uses and which parameters() lists once.</summary>
public sealed class MiniMindForCausalLM : nn.Module<Tensor, CausalLMOutput>
{
    readonly MiniMindModel model;
    readonly Projection lm_head;

    public MiniMindConfig Config { get; }

    public MiniMindForCausalLM(MiniMindConfig config) : base(nameof(MiniMindForCausalLM))
    {
        Config = config.Validate();
        model = new MiniMindModel(config);
        lm_head = new Projection(config.HiddenSize, config.VocabSize);
        // MiniMind ties them: self.model.embed_tokens.weight = self.lm_head.weight. The embedding's own N(0,1) init is discarded.
        // This direction matters in TorchSharp: the other one lists the shared tensor twice in parameters().
        model.EmbedTokens.weight = lm_head.Weight;
        RegisterComponents();
    }

    public MiniMindModel Model => model;

    /// <summary>lm_head (its weight is the tied embedding): the chunked training loss applies it chunk by chunk.</summary>
    public Projection LmHead => lm_head;

    /// <summary>One token's logits (vocab) in a single-token decode step; see <see cref="SingleTokenDecoder"/>.</summary>
    public Tensor DecodeOne(long token, TokenDecode step, IReadOnlyList<LayerBuffers> cache) =>
        lm_head.DecodeOne(model.DecodeOne(token, step, cache));

    /// <summary>Float32 (default), or BFloat16 for mixed precision: every <see cref="Projection"/> multiplies in bf16
    /// while weights, optimizer state, RMSNorm, softmax and the loss stay float32. Set it after <c>Lora.Apply</c>.</summary>
    public ScalarType ComputeDType
    {
        get => computeDType;
        set
        {
            if (value is not (ScalarType.Float32 or ScalarType.BFloat16))
                throw new ArgumentException($"compute dtype {value}: only Float32 and BFloat16 are supported");
            computeDType = value;
            foreach (var p in modules().OfType<Projection>()) p.ComputeDType = value;
        }
    }

    ScalarType computeDType = ScalarType.Float32;

    /// <summary>The weights packed for the CPU decode path of <c>--dtype bf16|int8</c> (null: none). When set, cached
    /// generation with fast decoding runs on <see cref="PackedDecoder"/> (prompt and new tokens) instead of libtorch.
    /// Disposing the model disposes the one set then; replacing it does not dispose the previous one (the bench swaps
    /// several). It is a snapshot of the parameters: pack again after changing them.</summary>
    public PackedModel? Packed { get; set; }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Packed?.Dispose();
            Packed = null;
        }
        base.Dispose(disposing);
    }

    public override CausalLMOutput forward(Tensor input_ids) => forward(input_ids, null, null, false);

    /// <param name="input_ids">(B, T) int64 token ids.</param>
    /// <param name="attention_mask">optional (B, T_past + T) padding mask of 1 (attend) / 0 (padding).</param>
    /// <param name="past_key_values">the cache of earlier positions, or null.</param>
    /// <param name="use_cache">return the updated cache in <see cref="CausalLMOutput.past_key_values"/>.</param>
    /// <param name="logits_to_keep">0 = logits for every position; n &gt; 0 = only the last n (MiniMind's logits_to_keep).</param>
    public CausalLMOutput forward(Tensor input_ids, Tensor? attention_mask, KVCache? past_key_values, bool use_cache, int logits_to_keep = 0)
    {
        using var scope = NewDisposeScope();
        var output = model.forward(input_ids, attention_mask, past_key_values, use_cache);
        var h = output.hidden;
        var kept = logits_to_keep > 0 ? h[TensorIndex.Colon, TensorIndex.Slice(-logits_to_keep, null), TensorIndex.Colon] : h;
        var logits = lm_head.call(kept);                                      // (B, T', vocab)
        output.past_key_values?.MoveToOuterDisposeScope();
        return new CausalLMOutput(logits.MoveToOuterDisposeScope(), output.aux_loss.MoveToOuterDisposeScope(),
                                  output.past_key_values, h.MoveToOuterDisposeScope());
    }

    /// <summary>The parameters to optimise and clip, in MiniMind's order, with the tied embedding/lm_head weight once
    /// (as torch's model.parameters() yields it). Frozen parameters are included; filter on requires_grad if needed.</summary>
    public IReadOnlyList<Parameter> OptimizerParameters() =>
        named_parameters().Where(p => p.name != "lm_head.weight").Select(p => p.parameter).ToList();

    /// <summary>Named unique parameters (the tied weight once, as model.embed_tokens.weight).</summary>
    public IReadOnlyList<(string name, Parameter parameter)> UniqueNamedParameters() =>
        named_parameters().Where(p => p.name != "lm_head.weight").ToList();

    /// <summary>Number of distinct parameter elements (the tied weight counted once), as MiniMind reports it.</summary>
    public long UniqueParameterCount() => OptimizerParameters().Sum(p => p.numel());
}
