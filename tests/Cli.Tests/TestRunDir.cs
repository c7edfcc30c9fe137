using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tokenizer;
using TorchSharp;

namespace MiniMind.Cli.Tests;

/// <summary>A run directory with seeded tiny-preset weights written the way MiniMind's trainers save them (float16
/// .pth, two copies of the tied weight): pretrain_64.pth, full_sft_64.pth and lora/lora_medical_64.pth (a LoRA
/// with non-zero B, so it changes the answers). Made once per test process; read-only for tests.</summary>
public static class TestRunDir
{
    static readonly Lazy<string> Dir = new(Create);

    public static string Path => Dir.Value;

    public static string Tokenizer { get; } = System.IO.Path.Combine(RepoPaths.Root, "dataset", "tokenizer", "tokenizer.json");

    public static MiniMindConfig Config => MiniMindConfig.Load("tiny");

    /// <summary>The CLI flags that load the run dir's <paramref name="mode"/> weights on one thread.</summary>
    public static string[] Args(int mode = 1) => ["--run-dir", Path, "--model-mode", mode.ToString(System.Globalization.CultureInfo.InvariantCulture), "--tokenizer", Tokenizer, "--threads", "1"];

    /// <summary>The run dir's weights loaded directly (not through the CLI), for expected values.</summary>
    public static ChatModel Load(int mode = 1, string? lora = null)
    {
        var stage = WeightStage.FromModelMode(mode);
        var model = ModelLoader.Load(Config, System.IO.Path.Combine(Path, stage.FileName(Config)));
        if (lora is not null) LoraFiles.Attach(model, LoraFiles.PathFor(Path, lora, Config));
        return new ChatModel(model, BpeTokenizer.FromFile(Tokenizer), rawText: !stage.IsChat);
    }

    static string Create()
    {
        var dir = TempDir.Create();
        var config = Config;
        torch.manual_seed(11);
        using (var pretrain = new MiniMindForCausalLM(config))
            StateDictFile.Write(System.IO.Path.Combine(dir, "pretrain_64.pth"), pretrain, StateDictWriteOptions.MiniMindHalf);
        torch.manual_seed(12);
        using var sft = new MiniMindForCausalLM(config);
        StateDictFile.Write(System.IO.Path.Combine(dir, "full_sft_64.pth"), sft, StateDictWriteOptions.MiniMindHalf);
        Lora.Apply(sft, rank: 4);
        using (torch.no_grad())
            foreach (var (_, p) in Lora.NamedParameters(sft)) p.normal_(0, 0.5);
        Directory.CreateDirectory(System.IO.Path.Combine(dir, "lora"));
        StateDictFile.Write(System.IO.Path.Combine(dir, "lora", "lora_medical_64.pth"), Lora.StateDict(sft), StateDictWriteOptions.MiniMindHalf);
        return dir;
    }
}
