using System.CommandLine;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli;

/// <summary>A loaded model for chat, eval and serve, and where it came from.</summary>
public sealed record RunModel(ChatModel Chat, MiniMindConfig Config, string Weights, string ConfigFrom, string? Lora, WeightStage Stage,
                              InferenceDType DType, string DTypeInEffect) : IDisposable
{
    /// <summary>The header's dtype line: the requested dtype and the path in effect.</summary>
    public string DescribeDType() => $"dtype: {DType.Name()}: {DTypeInEffect}";

    /// <summary>One header line: weights, config source, LoRA.</summary>
    public string Describe() =>
        $"{Weights} ({Stage.Name}; hidden {Config.HiddenSize}, layers {Config.NumHiddenLayers}, heads {Config.NumAttentionHeads}/{Config.NumKeyValueHeads}" +
        $"{(Config.UseMoe ? ", moe" : "")}; config from {ConfigFrom}{(Lora is null ? "" : "; LoRA " + Lora)})";

    public void Dispose() => Chat.Model.Dispose();
}

/// <summary>The options shared by chat, eval and serve, which load a stage's weights from a run directory as
/// MiniMind's eval_model.py does (<c>--model_mode</c>, <c>--lora_name</c>, <c>--out_dir</c>).</summary>
public sealed class RunModelOptions
{
    public Option<string> RunDir { get; } = new("--run-dir") { Description = "Run directory holding the trained weights (<stage>_<hidden>[_moe].pth, lora/). Default: runs/default.", DefaultValueFactory = _ => "runs/default" };
    public Option<int> ModelMode { get; } = new("--model-mode") { Description = "Which weights, as MiniMind's eval_model.py: 0 pretrain (continues raw text), 1 SFT, 2 RLHF/DPO, 3 reason. Default: 1.", DefaultValueFactory = _ => 1 };
    public Option<string?> Config { get; } = new("--config", "--preset") { Description = "Model config (config.json or preset name). Default: <run-dir>/config.json when present, else inferred from the weights (heads from the matching preset)." };
    public Option<string?> Lora { get; } = new("--lora") { Description = "LoRA adapter name: loads <run-dir>/lora/<name>_<hidden>.pth on top of the weights. Default: none." };
    public Option<string> Tokenizer { get; } = new("--tokenizer") { Description = $"tokenizer.json. Default: {DefaultPaths.Tokenizer}.", DefaultValueFactory = _ => DefaultPaths.Tokenizer };
    public Option<string> Device { get; } = CommonOptions.Device();
    public Option<int> Threads { get; } = CommonOptions.Threads();
    public Option<string> DType { get; } = CommonOptions.InferenceDtype();

    public IEnumerable<Option> All => [RunDir, ModelMode, Config, Lora, Tokenizer, Device, Threads, DType];

    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    /// <summary>Resolves the config and file, loads the weights (strict), attaches the LoRA and the tokenizer.</summary>
    public RunModel Load(ParseResult parse)
    {
        TorchRuntime.SetThreads(parse.GetValue(Threads));
        var dtype = InferenceDTypes.Parse(parse.GetValue(DType)!);
        var stage = WeightStage.FromModelMode(parse.GetValue(ModelMode));
        var runDir = parse.GetValue(RunDir)!;
        var (config, from, weights) = Resolve(runDir, stage, parse.GetValue(Config));
        var tokenizer = BpeTokenizer.FromFile(DefaultPaths.Resolve(parse.GetValue(Tokenizer)!));
        if (tokenizer.VocabSize > config.VocabSize)
            throw new ArgumentException($"--tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}");
        string? loraPath = null;
        if (parse.GetValue(Lora) is { } loraName)
        {
            loraPath = LoraFiles.PathFor(runDir, loraName, config);
            if (!File.Exists(loraPath)) throw new FileNotFoundException($"LoRA weights not found: {loraPath}", loraPath);
        }
        var model = ModelLoader.Load(config, weights, TorchRuntime.ParseDevice(parse.GetValue(Device)!));
        string inEffect;
        try
        {
            if (loraPath is not null) LoraFiles.Attach(model, loraPath);
            model.eval();
            inEffect = InferenceSetup.Apply(model, dtype);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new RunModel(new ChatModel(model, tokenizer, rawText: !stage.IsChat), config, weights, from, loraPath, stage, dtype, inEffect);
    }

    /// <summary>The config (explicit, the run dir's config.json, or inferred from the file) and the stage's weights file.</summary>
    public static (MiniMindConfig Config, string From, string Weights) Resolve(string runDir, WeightStage stage, string? configArg)
    {
        if (configArg is not null) { var c = MiniMindConfig.Load(configArg); return (c, configArg, stage.Find(runDir, c)); }
        var runConfig = Path.Combine(runDir, "config.json");
        if (File.Exists(runConfig)) { var c = MiniMindConfig.Load(runConfig); return (c, runConfig, stage.Find(runDir, c)); }
        var weights = stage.Find(runDir, null);
        var (inferred, headsFrom) = ConfigInference.FromCheckpoint(weights);
        return (inferred, $"the weights' shapes, heads from {headsFrom}", weights);
    }
}
