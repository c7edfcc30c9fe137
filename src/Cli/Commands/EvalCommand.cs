using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MiniMind.Model;
using MiniMind.Model.Evaluation;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind eval</c>: eval_model.py's automatic test (its built-in prompt set for the mode) and the
/// held-out perplexity of a JSONL file, computed with the training loss's masked mean.</summary>
public static class EvalCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new RunModelOptions();
        var sampling = new SamplingOptions();
        var data = new Option<string?>("--data") { Description = "Held-out JSONL for perplexity: pretrain lines {\"text\": …} (every token scored) or SFT lines {\"conversations\": […]} (assistant tokens scored). Default: none." };
        var maxSeqLen = new Option<int>("--max-seq-len") { Description = "Samples are cut to this many tokens, as in training. Default: 512.", DefaultValueFactory = _ => 512 };
        var prompts = new Option<string?>("--prompts") { Description = "A text file with one prompt per line instead of MiniMind's built-in set." };
        var noPrompts = new Option<bool>("--no-prompts") { Description = "Skip the prompts; only compute perplexity." };
        var maxNew = sampling.MaxNewTokens;
        var cmd = new Command("eval", "Answer MiniMind's built-in eval prompts (eval_model.py's set for --model-mode: sentence openings for pretrain weights, " +
            "general questions for chat weights, the adapter's own set for --lora lora_identity/lora_medical), then, with --data, report perplexity " +
            "exp(Σ CE·mask / Σ mask) over the file with the token count. The last line is JSON. The perplexity of a run dir's own output is also " +
            "recorded in the history of the run that wrote it (its SQLite journal), at its last step: run metrics shows it as eval_loss/eval_ppl.\n\n" +
            "Examples:\n  minimind eval --run-dir runs/default --model-mode 1 --max-new-tokens 128\n" +
            "  minimind eval --run-dir runs/default --model-mode 0 --no-prompts --data heldout_pretrain.jsonl");
        model.AddTo(cmd);
        sampling.AddTo(cmd);
        foreach (var o in new Option[] { data, maxSeqLen, prompts, noPrompts }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var seq = parse.GetValue(maxSeqLen);
            if (seq < 2) throw new ArgumentException($"--max-seq-len {seq}: must be at least 2");
            var dataPath = parse.GetValue(data);
            if (parse.GetValue(noPrompts) && dataPath is null) throw new ArgumentException("--no-prompts without --data leaves nothing to do");
            using var run = model.Load(parse);
            var options = sampling.Read(parse, run.Config);
            var o = ctx.Out;
            o.WriteLine($"model: {run.Describe()}");
            o.WriteLine(run.DescribeDType());
            var report = new Dictionary<string, object?> { ["weights"] = run.Weights };
            if (!parse.GetValue(noPrompts))
            {
                var set = parse.GetValue(prompts) is { } file
                    ? File.ReadAllLines(file).Where(l => l.Trim().Length > 0).ToList()
                    : EvalPrompts.For(run.Stage.IsChat, run.Lora is null ? null : parse.GetValue(model.Lora));
                var answered = 0;
                foreach (var prompt in set)
                {
                    ct.ThrowIfCancellationRequested();
                    o.WriteLine($"👶: {prompt}");
                    o.Write("🤖️: ");
                    foreach (var piece in run.Chat.Stream([ChatMessage.User(prompt)], options, new ChatUsage()))
                    {
                        o.Write(piece);
                        o.Flush();
                    }
                    o.WriteLine();
                    o.WriteLine();
                    answered++;
                }
                report["prompts"] = answered;
            }
            if (dataPath is not null)
            {
                var seqLen = Math.Min(seq, run.Config.MaxPositionEmbeddings);
                var result = Perplexity.Evaluate(run.Chat.Model, EvalSamples.Read(dataPath, run.Chat.Tokenizer, seqLen));
                if (result.Tokens == 0) throw new InvalidDataException($"{dataPath}: no scored tokens (every loss mask is empty)");
                var inv = CultureInfo.InvariantCulture;
                o.WriteLine(string.Create(inv, $"perplexity {result.Perplexity:F4} (mean NLL {result.MeanNll:F6} over {result.Tokens:N0} tokens, {result.Samples} samples, max_seq_len {seqLen}) on {dataPath}"));
                report["perplexity"] = result.Perplexity;
                report["mean_nll"] = result.MeanNll;
                report["tokens"] = result.Tokens;
                report["samples"] = result.Samples;
                if (run.Lora is null && EvalHistory.Record(parse.GetValue(model.RunDir)!, run.Weights, result) is var (line, step))
                {
                    o.WriteLine(line);
                    if (step > 0) report["recorded_step"] = step;
                }
            }
            o.WriteLine(JsonSerializer.Serialize(report));
            return ExitCode.Ok;
        })));
        return cmd;
    }
}
