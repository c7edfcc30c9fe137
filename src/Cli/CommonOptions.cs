using System.CommandLine;

namespace MiniMind.Cli;

/// <summary>Options shared by several verbs.</summary>
public static class CommonOptions
{
    /// <summary>Flags of which a user may give one: throws (exit 2) naming those given when more than one is; else
    /// whether one is.</summary>
    public static bool AtMostOne(params (string Flag, bool Given)[] flags)
    {
        var given = flags.Where(f => f.Given).Select(f => f.Flag).ToArray();
        if (given.Length > 1) throw new ArgumentException($"{string.Join(" and ", given)}: pick one");
        return given.Length == 1;
    }

    public static Option<string> Config() => new("--config")
    {
        Description = "Model config: a MiniMind config.json, or a preset name (tiny, minimind2-small, minimind2, minimind2-moe). Default: tiny.",
        DefaultValueFactory = _ => "tiny",
    };

    public static Option<string> Checkpoint(bool required = true) => new("--checkpoint")
    {
        Description = "Weights: a MiniMind .pth (float32 or float16) or a .safetensors file.",
        Required = required,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N. Default: cpu.",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<int> Threads() => new("--threads")
    {
        Description = "Torch intra-op threads (0 = torch's default, one per core). Default: 0.",
        DefaultValueFactory = _ => 0,
    };

    /// <summary><c>--dtype fp32|bf16|int8</c> of generate, chat, eval and serve; parse with <see cref="MiniMind.Model.InferenceDTypes.Parse"/>.</summary>
    public static Option<string> InferenceDtype() => new("--dtype")
    {
        Description = "Inference weights: fp32 (libtorch, float32), bf16 (bfloat16 weights and KV cache), or int8 (weight-only, " +
                      "one scale per output channel; bf16 KV cache). On the CPU, bf16 and int8 decode on our own AVX-512/AVX2 GEMV " +
                      "kernels (prompt included) and read 1/2 or 1/4 of fp32's bytes per token; greedy output can differ slightly from fp32 " +
                      "(README: Inference dtypes). On CUDA, and for MoE or LoRA models, they run libtorch bf16 matmuls instead, and int8 " +
                      "is not quantised (runs as bf16); the CUDA path is untested. Perplexity (eval --data) runs on libtorch (fp32; bf16 matmuls where bf16/int8 fall back). Default: fp32.",
        DefaultValueFactory = _ => "fp32",
    };
}
