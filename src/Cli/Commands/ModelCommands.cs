using System.CommandLine;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind model logits|convert|info</c>: inspect and convert checkpoints.</summary>
public static class ModelCommands
{
    public static Command Create(CliContext ctx)
    {
        var model = new Command("model", "Inspect, run and convert model checkpoints.");
        model.Subcommands.Add(Logits(ctx));
        model.Subcommands.Add(Convert(ctx));
        model.Subcommands.Add(Info(ctx));
        model.Subcommands.Add(ModelExportCommand.Create(ctx));
        return model;
    }

    static Command Logits(CliContext ctx)
    {
        var config = CommonOptions.Config();
        var checkpoint = CommonOptions.Checkpoint();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var ids = new Option<string>("--ids") { Description = "Token ids: \"1,2,3\" for one row, \"1,2,3;4,5,6\" for several rows of equal length.", Required = true };
        var output = new Option<string>("--out") { Description = "Output .npy file: float32 logits of shape (rows, tokens, vocab).", Required = true };
        var cmd = new Command("logits", "Run the model in eval mode on token ids and write the logits as a NumPy .npy file.\n\n" +
            "Example:\n  minimind model logits --config tiny --checkpoint out/pretrain_64.pth --ids \"1,2,3;4,5,6\" --out logits.npy")
        {
            config, checkpoint, ids, output, device, threads,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            var cfg = MiniMindConfig.Load(parse.GetValue(config)!);
            var rows = TokenIds.ParseRows(parse.GetValue(ids)!, "--ids", cfg.VocabSize);
            var dev = TorchRuntime.ParseDevice(parse.GetValue(device)!);
            using var m = ModelLoader.Load(cfg, parse.GetValue(checkpoint)!, dev);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var input = torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length], dtype: ScalarType.Int64, device: dev);
            var logits = m.call(input).logits.to_type(ScalarType.Float32);
            var path = parse.GetValue(output)!;
            Npy.Write(path, logits);
            ctx.Out.WriteLine($"wrote logits [{string.Join(", ", logits.shape)}] float32 to {path}");
            return ExitCode.Ok;
        }));
        return cmd;
    }

    static Command Convert(CliContext ctx)
    {
        var input = new Option<string>("--in") { Description = "Source checkpoint (.pth or .safetensors).", Required = true };
        var output = new Option<string>("--out") { Description = "Destination; the format follows its extension (.pth or .safetensors).", Required = true };
        var half = new Option<bool>("--half") { Description = "Store floats as float16 with two copies of the tied weight, as MiniMind's trainers save .pth files. Default: keep dtypes." };
        var cmd = new Command("convert", "Convert a checkpoint between PyTorch .pth and .safetensors.\n\n" +
            "Examples:\n  minimind model convert --in out/full_sft_512.pth --out full_sft_512.safetensors\n" +
            "  minimind model convert --in model.safetensors --out model.pth --half")
        {
            input, output, half,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            var src = parse.GetValue(input)!;
            var dst = parse.GetValue(output)!;
            var ext = Path.GetExtension(dst).ToLowerInvariant();
            if (ext is not (".pth" or ".pt" or ".bin" or ".safetensors"))
                throw new ArgumentException($"--out {dst}: the extension must be .pth, .pt, .bin or .safetensors");
            var dict = StateDictFile.Read(src);
            try
            {
                // safetensors omits the tied lm_head.weight; MiniMind's load_state_dict expects it in a .pth.
                if (ext != ".safetensors" && dict.TryGetValue(TiedWeights.Embedding, out var embed) && !dict.ContainsKey(TiedWeights.LmHead))
                    dict[TiedWeights.LmHead] = embed;
                var options = parse.GetValue(half) ? StateDictWriteOptions.MiniMindHalf : StateDictWriteOptions.Default;
                StateDictFile.Write(dst, dict, options);
            }
            finally
            {
                foreach (var t in dict.Values.Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()) t.Dispose();
            }
            ctx.Out.WriteLine($"converted {src} ({dict.Count} tensors) -> {dst}");
            return ExitCode.Ok;
        }));
        return cmd;
    }

    static Command Info(CliContext ctx)
    {
        var file = new Argument<string>("file") { Description = "A .pth or .safetensors checkpoint." };
        var cmd = new Command("info", "Print a checkpoint's keys, shapes, dtypes and parameter count (a tied weight counts once).\n\n" +
            "Example:\n  minimind model info out/pretrain_512.pth")
        {
            file,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            ctx.Out.Write(ModelInfo.Read(parse.GetValue(file)!).ToString());
            return ExitCode.Ok;
        }));
        return cmd;
    }
}
