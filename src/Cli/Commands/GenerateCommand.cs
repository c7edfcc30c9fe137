using System.CommandLine;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind generate</c>: continue a prompt with a checkpoint.</summary>
public static class GenerateCommand
{
    public static Command Create(CliContext ctx)
    {
        var config = CommonOptions.Config();
        var checkpoint = CommonOptions.Checkpoint();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var dtype = CommonOptions.InferenceDtype();
        var promptIds = new Option<string>("--prompt-ids") { Description = "The prompt as token ids, e.g. 1,2,3 (or use --prompt)." };
        var promptText = new Option<string>("--prompt") { Description = "The prompt as text, encoded with --tokenizer; the generated text is printed as it is produced." };
        var tokenizer = new Option<string>("--tokenizer") { Description = $"tokenizer.json for --prompt. Default: {DefaultPaths.Tokenizer}.", DefaultValueFactory = _ => DefaultPaths.Tokenizer };
        var chat = new Option<bool>("--chat") { Description = "Wrap --prompt in the chat template as a user turn (for SFT weights); otherwise it is continued after <|im_start|>, as MiniMind's eval does for pretrain weights." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate. Default: 64.", DefaultValueFactory = _ => 64 };
        var greedy = new Option<bool>("--greedy") { Description = "Pick the most likely token at each step (otherwise sample)." };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature. Default: 0.85 (MiniMind's).", DefaultValueFactory = _ => 0.85 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass. Default: 0.85 (MiniMind's).", DefaultValueFactory = _ => 0.85 };
        var seed = new Option<int?>("--seed") { Description = "Seed of the sampler, for reproducible samples. Default: none." };
        var noCache = new Option<bool>("--no-cache") { Description = "Re-run the whole sequence at every step instead of using the KV cache (same tokens, slower)." };
        var noEos = new Option<bool>("--ignore-eos") { Description = "Keep generating after the end-of-turn token (eos_token_id)." };
        var cmd = new Command("generate", "Generate tokens after a prompt. The generated ids (prompt excluded) are printed as a JSON array on the last line; the dtype line goes to stderr.\n\n" +
            "Examples:\n  minimind generate --config tiny --checkpoint model.pth --prompt-ids 1,2,3 --max-new-tokens 8 --greedy\n" +
            "  minimind generate --config minimind2-small --checkpoint full_sft_512.pth --prompt \"What is 2+3?\" --chat --temperature 0.7 --seed 1\n" +
            "  minimind generate --config minimind2-small --checkpoint full_sft_512.pth --prompt \"Hi\" --chat --greedy --dtype int8")
        {
            config, checkpoint, promptIds, promptText, tokenizer, chat, maxNew, greedy, temperature, topP, seed, noCache, noEos, device, threads, dtype,
        };
        cmd.SetAction(parse => CommandRunner.Run(ctx, () =>
        {
            TorchRuntime.SetThreads(parse.GetValue(threads));
            var inference = InferenceDTypes.Parse(parse.GetValue(dtype)!);
            var cfg = MiniMindConfig.Load(parse.GetValue(config)!);
            var (idsText, text) = (parse.GetValue(promptIds), parse.GetValue(promptText));
            if ((idsText is null) == (text is null)) throw new ArgumentException("give exactly one of --prompt-ids and --prompt");
            BpeTokenizer? tok = null;
            long[] prompt;
            if (text is not null)
            {
                tok = BpeTokenizer.FromFile(DefaultPaths.Resolve(parse.GetValue(tokenizer)!));
                if (tok.VocabSize > cfg.VocabSize)
                    throw new ArgumentException($"--tokenizer has {tok.VocabSize} tokens but the model's vocab_size is {cfg.VocabSize}");
                var rendered = parse.GetValue(chat)
                    ? ChatTemplate.Render([ChatMessage.User(text)], addGenerationPrompt: true)
                    : MiniMindSpecialTokens.ImStart + text;
                prompt = tok.Encode(rendered).Select(i => (long)i).ToArray();
            }
            else prompt = TokenIds.ParseRow(idsText!, "--prompt-ids", cfg.VocabSize);
            var max = parse.GetValue(maxNew);
            if (max < 1) throw new ArgumentException($"--max-new-tokens {max}: must be at least 1");
            var t = parse.GetValue(temperature);
            if (t <= 0) throw new ArgumentException($"--temperature {t}: must be > 0 (use --greedy for argmax)");
            var p = parse.GetValue(topP);
            if (p is <= 0 or > 1) throw new ArgumentException($"--top-p {p}: must be in (0, 1]");
            using var model = ModelLoader.Load(cfg, parse.GetValue(checkpoint)!, TorchRuntime.ParseDevice(parse.GetValue(device)!));
            model.eval();
            ctx.Error.WriteLine($"dtype: {inference.Name()}: {InferenceSetup.Apply(model, inference)}");
            var options = new GenerationOptions
            {
                MaxNewTokens = max,
                Greedy = parse.GetValue(greedy),
                Temperature = t,
                TopP = p,
                Seed = parse.GetValue(seed),
                UseCache = !parse.GetValue(noCache),
                EosTokenId = parse.GetValue(noEos) ? null : cfg.EosTokenId,
            };
            var ids = new List<long>();
            var printed = "";
            foreach (var id in Generator.Stream(model, prompt, options))
            {
                ids.Add(id);
                if (tok is null) continue;
                // Print the text as it grows; hold back an incomplete UTF-8 sequence (decoded as U+FFFD) until it completes.
                var textSoFar = tok.Decode(ids.Select(i => (int)i).ToArray(), skipSpecialTokens: true);
                if (textSoFar.EndsWith('\uFFFD') || !textSoFar.StartsWith(printed, StringComparison.Ordinal)) continue;
                ctx.Out.Write(textSoFar[printed.Length..]);
                ctx.Out.Flush();
                printed = textSoFar;
            }
            if (tok is not null) ctx.Out.WriteLine();
            ctx.Out.WriteLine("[" + string.Join(",", ids) + "]");
            return ExitCode.Ok;
        }));
        return cmd;
    }
}
