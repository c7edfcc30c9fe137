using System.CommandLine;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind model export</c>: a stage's weights as a folder MiniMind and transformers users know.</summary>
public static class ModelExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var runDir = new Option<string>("--run-dir") { Description = "Run directory holding the trained weights. Default: runs/default.", DefaultValueFactory = _ => "runs/default" };
        var stage = new Option<string>("--stage") { Description = $"Which weights: {WeightStage.Names} (dpo = rlhf, the file MiniMind's DPO trainer writes). Default: sft.", DefaultValueFactory = _ => "sft" };
        var output = new Option<string>("--out") { Description = "Output directory (created).", Required = true };
        var config = new Option<string?>("--config", "--preset") { Description = "Model config (config.json or preset name). Default: <run-dir>/config.json when present, else inferred from the weights." };
        var lora = new Option<string?>("--lora") { Description = "LoRA adapter name: copies <run-dir>/lora/<name>_<hidden>.pth to <out>/lora/. Default: none." };
        var merge = new Option<bool>("--merge-lora") { Description = "Also fold the --lora adapter into the exported weights (W + B·A)." };
        var tokenizer = new Option<string>("--tokenizer") { Description = $"tokenizer.json to ship (tokenizer_config.json is taken from its folder). Default: {DefaultPaths.Tokenizer}.", DefaultValueFactory = _ => DefaultPaths.Tokenizer };
        var cmd = new Command("export", "Export a stage's weights: <stage>_<hidden>[_moe].pth (float16, MiniMind's layout), model.safetensors (float16), " +
            "config.json (transformers-style MiniMindConfig), generation_config.json, tokenizer.json and tokenizer_config.json (with the chat template).\n\n" +
            "Examples:\n  minimind model export --run-dir runs/default --stage sft --out export/minimind-sft\n" +
            "  minimind model export --run-dir runs/default --stage sft --lora lora_medical --merge-lora --out export/medical")
        {
            runDir, stage, output, config, lora, merge, tokenizer,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            var s = WeightStage.Parse(parse.GetValue(stage)!);
            var dir = parse.GetValue(runDir)!;
            var (cfg, from, weights) = RunModelOptions.Resolve(dir, s, parse.GetValue(config));
            string? loraPath = null;
            if (parse.GetValue(lora) is { } name)
            {
                loraPath = LoraFiles.PathFor(dir, name, cfg);
                if (!File.Exists(loraPath)) throw new FileNotFoundException($"LoRA weights not found: {loraPath}", loraPath);
            }
            else if (parse.GetValue(merge)) throw new ArgumentException("--merge-lora needs --lora <name>");
            var outDir = parse.GetValue(output)!;
            var written = ModelExport.Write(new ModelExportRequest(cfg, weights, s.FileName(cfg), DefaultPaths.Resolve(parse.GetValue(tokenizer)!), outDir, loraPath, parse.GetValue(merge)));
            ctx.Out.WriteLine($"exported {weights} (config from {from}{(loraPath is null ? "" : parse.GetValue(merge) ? ", LoRA merged" : ", LoRA alongside")}) to {outDir}:");
            foreach (var f in written) ctx.Out.WriteLine($"  {f}");
            return ExitCode.Ok;
        }));
        return cmd;
    }
}
