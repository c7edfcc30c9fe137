using static TorchSharp.torch;

namespace MiniMind.Model;

/// <summary>Puts a loaded model into an <see cref="InferenceDType"/> for generation, and says what is in effect.</summary>
public static class InferenceSetup
{
    /// <summary>
    /// fp32: nothing changes (libtorch, float32, today's path). bf16/int8 on the CPU for a dense model without LoRA: the
    /// weights are packed (<see cref="MiniMindForCausalLM.Packed"/>) and cached generation runs on <see cref="PackedDecoder"/>.
    /// Elsewhere (CUDA, MoE, LoRA) both run through libtorch with bf16 matmuls (<see cref="MiniMindForCausalLM.ComputeDType"/>;
    /// int8 is then not quantised but runs as bf16). The float32 parameters stay loaded either way (perplexity and the
    /// uncached path use them). Returns the header line's text.
    /// </summary>
    public static string Apply(MiniMindForCausalLM model, InferenceDType dtype)
    {
        model.Packed?.Dispose();
        model.Packed = null;
        model.ComputeDType = ScalarType.Float32;
        if (dtype == InferenceDType.Fp32)
            return "fp32 weights and KV cache; decode on libtorch (single-token path)";
        if (PackedModel.Unsupported(model) is { } why)
        {
            model.ComputeDType = ScalarType.BFloat16;
            return $"{dtype.Name()} requested, but our CPU kernels do not run {why}: libtorch bf16 matmuls " +
                   $"(fp32 master weights, general forward){(dtype == InferenceDType.Int8 ? "; int8 falls back to bf16 here" : "")}";
        }
        var packed = PackedModel.Pack(model, dtype.Format());
        model.Packed = packed;
        var what = dtype == InferenceDType.Int8 ? "int8 weights (per-output-channel float32 scales)" : "bf16 weights";
        return $"{what}, {packed.StreamedBytes / 1e6:F1} MB read per token, bf16 KV cache; prefill and decode on our " +
               $"{Gemv.Isa} GEMV kernels, {packed.Threads} thread{(packed.Threads == 1 ? "" : "s")}";
    }
}
