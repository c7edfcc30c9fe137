using System.CommandLine;
using System.Diagnostics;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind train tokenizer</c>: byte-level BPE as MiniMind's train_tokenizer.py, written as tokenizer.json + tokenizer_config.json.</summary>
public static class TrainTokenizerCommand
{
    public static Command Create(CliContext ctx)
    {
        var data = new Option<string>("--data")
        {
            Description = "JSONL to learn from: {\"text\"} records, or {\"conversations\"} whose contents are used.",
            Required = true,
        };
        var vocab = new Option<int>("--vocab-size") { Description = "Vocabulary size, special tokens included. Default: 6400.", DefaultValueFactory = _ => 6400 };
        var output = new Option<string>("--out") { Description = "Directory for tokenizer.json and tokenizer_config.json.", Required = true };
        var cmd = new Command("tokenizer",
            "Train a byte-level BPE tokenizer (MiniMind's special tokens <|endoftext|>, <|im_start|>, <|im_end|> = ids 0, 1, 2).\n" +
            "Example: minimind train tokenizer --data dataset/pretrain.jsonl --vocab-size 6400 --out dataset/tokenizer")
        {
            data, vocab, output,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var path = parse.GetValue(data)!;
            var vocabSize = parse.GetValue(vocab);
            var outDir = parse.GetValue(output)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
            if (vocabSize < 259) throw new ArgumentException("--vocab-size must be at least 259 (3 special tokens + 256 bytes)");
            ctx.Out.WriteLine($"Input          : {path} ({new FileInfo(path).Length / 1e6:F1} MB)");
            ctx.Out.WriteLine($"Vocab size     : {vocabSize}");
            ctx.Out.WriteLine($"Output         : {outDir}");
            var clock = Stopwatch.StartNew();
            var trainer = new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize });
            var counting = new ProgressBar(ctx);
            trainer.FeedJsonl(path, new SyncProgress<BpeTrainerProgress>(p => counting.Report(p.Percent / 100, $"counting words, {p.Done / 1e6:F1}/{p.Total / 1e6:F1} MB")), ct);
            counting.Finish();
            var merging = new ProgressBar(ctx);
            var result = trainer.Train(new SyncProgress<BpeTrainerProgress>(p => merging.Report(p.Percent / 100, $"merging, {p.Done}/{p.Total} tokens")), ct);
            merging.Finish();
            BpeTrainerJsonWriter.Save(result, outDir);
            ctx.Out.WriteLine($"trained {result.Vocab.Count} tokens ({result.Merges.Count} merges) from {trainer.TextCount} texts in {clock.Elapsed.TotalSeconds:F1} s -> {Path.Combine(outDir, "tokenizer.json")}");
            return ExitCode.Ok;
        })));
        return cmd;
    }
}
