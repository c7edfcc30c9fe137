using System.CommandLine;

namespace MiniMind.Cli;

/// <summary>Options shared by several verbs.</summary>
public static class CommonOptions
{
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
}
