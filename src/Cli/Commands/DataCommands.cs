using System.CommandLine;
using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind data prepare|sample</c>: JSONL → pre-tokenized shards, and our sample data.</summary>
public static class DataCommands
{
    /// <summary>How many skipped lines the prepare report spells out with their reasons.</summary>
    const int ReasonsShown = 5;

    public static Command Create(CliContext ctx)
    {
        var data = new Command("data", "Prepare training data: tokenize JSONL into memory-mapped shards; regenerate the sample data.");
        data.Subcommands.Add(Prepare(ctx));
        data.Subcommands.Add(Sample(ctx));
        return data;
    }

    static Command Prepare(CliContext ctx)
    {
        var stage = new Option<string>("--stage")
        {
            Description = "Which dataset the JSONL feeds: pretrain ({\"text\"}), sft or reason ({\"conversations\"}), dpo ({\"chosen\",\"rejected\"}).",
            Required = true,
        };
        stage.AcceptOnlyFromAmong("pretrain", "sft", "dpo", "reason");
        var dataPath = new Option<string>("--data") { Description = "Input JSONL file.", Required = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "tokenizer.json to encode with.", Required = true };
        var output = new Option<string>("--out") { Description = "Output directory (replaced atomically if it holds an earlier preparation).", Required = true };
        var maxLength = new Option<int>("--max-length")
        {
            Description = "MiniMind's max_length: samples are truncated or padded to it. Default: 512.",
            DefaultValueFactory = _ => 512,
        };
        var threads = new Option<int>("--threads")
        {
            Description = "Tokenizing threads (0 = one per core). The output is the same for any value. Default: 0.",
            DefaultValueFactory = _ => 0,
        };
        var skip = new Option<bool>("--skip-bad-lines")
        {
            Description = "Skip lines that are not valid samples and report them, instead of stopping at the first. Default: off.",
        };
        var cmd = new Command("prepare",
            "Tokenize a JSONL file into pre-tokenized, memory-mapped shards (uint16 ids while the vocab fits) plus manifest.json.\n" +
            "Example: minimind data prepare --stage pretrain --data dataset/pretrain.jsonl --tokenizer dataset/tokenizer/tokenizer.json --out data/pretrain-512")
        {
            stage, dataPath, tokenizer, output, maxLength, threads, skip,
        };
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var options = new DataPrepareOptions
            {
                Source = parse.GetValue(dataPath)!,
                Tokenizer = parse.GetValue(tokenizer)!,
                Stage = DataStages.Parse(parse.GetValue(stage)!),
                OutputDir = parse.GetValue(output)!,
                MaxLength = parse.GetValue(maxLength),
                Threads = parse.GetValue(threads) is > 0 and var t ? t : Environment.ProcessorCount,
                SkipBadLines = parse.GetValue(skip),
            };
            if (options.MaxLength < 2) throw new ArgumentException("--max-length must be at least 2");
            if (!File.Exists(options.Source)) throw new FileNotFoundException($"file not found: {options.Source}", options.Source);
            if (!File.Exists(options.Tokenizer)) throw new FileNotFoundException($"file not found: {options.Tokenizer}", options.Tokenizer);
            ctx.Out.WriteLine($"Input          : {options.Source} ({new FileInfo(options.Source).Length / 1e6:F1} MB)");
            ctx.Out.WriteLine($"Stage          : {options.Stage.Name()}, max_length {options.MaxLength}");
            ctx.Out.WriteLine($"Tokenizer      : {options.Tokenizer}");
            ctx.Out.WriteLine($"Output         : {options.OutputDir}");
            ctx.Out.WriteLine($"Threads        : {options.Threads}");
            var bar = new ProgressBar(ctx);
            var report = await DataPreparer.PrepareAsync(options with
            {
                Progress = p => bar.Report(p.Fraction, $"{p.BytesDone / 1e6:F1}/{p.BytesTotal / 1e6:F1} MB, {p.Samples} samples"),
            }, ct);
            bar.Finish();
            if (report.LinesSkipped > 0)
            {
                var listed = report.SkippedLines.Count < report.LinesSkipped ? $"first {report.SkippedLines.Count}: " : "";
                ctx.Out.WriteLine($"skipped {report.LinesSkipped} bad lines ({listed}{string.Join(", ", report.SkippedLines)})");
                foreach (var reason in report.SkippedReasons.Take(ReasonsShown)) ctx.Out.WriteLine($"  {reason}");
            }
            ctx.Out.WriteLine($"prepared {report.Samples} samples ({report.InputBytes / 1e6:F1} MB in {report.Elapsed.TotalSeconds:F1} s, " +
                $"{report.MegabytesPerSecond:F1} MB/s) -> {report.OutputDir}");
            return ExitCode.Ok;
        }));
        return cmd;
    }

    static Command Sample(CliContext ctx)
    {
        var output = new Option<string>("--out")
        {
            Description = "Directory to write pretrain/sft/lora_medical/dpo/reason .jsonl into, and the tokenizer into <out>/tokenizer. Default: dataset.",
            DefaultValueFactory = _ => "dataset",
        };
        var skipTokenizer = new Option<bool>("--skip-tokenizer")
        {
            Description = "Only write the .jsonl files; do not retrain <out>/tokenizer. Default: off.",
        };
        var cmd = new Command("sample",
            "Regenerate the project's small synthetic sample data and its 6400-token tokenizer (deterministic: the committed dataset/ is reproduced byte for byte).\n" +
            "Example: minimind data sample --out dataset")
        {
            output, skipTokenizer,
        };
        cmd.SetAction((parse, ct) => Task.FromResult(CommandRunner.Run(ctx, () =>
        {
            var dir = parse.GetValue(output)!;
            foreach (var path in SampleData.Write(dir))
                ctx.Out.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e6:F2} MB)");
            if (parse.GetValue(skipTokenizer)) return ExitCode.Ok;
            // One bar per phase: counting words in pretrain.jsonl, then in sft.jsonl, then merging.
            var bar = new ProgressBar(ctx);
            var last = (Phase: "", Total: 0L);
            void Report(BpeTrainerProgress p)
            {
                if ((p.Phase, p.Total) != last)
                {
                    bar.Finish();
                    bar = new ProgressBar(ctx);
                    last = (p.Phase, p.Total);
                }
                bar.Report(p.Percent / 100, $"{p.Phase}, {p.Done}/{p.Total}");
            }
            var result = SampleData.TrainTokenizer(dir, progress: new SyncProgress<BpeTrainerProgress>(Report), cancellationToken: ct);
            bar.Finish();
            ctx.Out.WriteLine($"wrote {Path.Combine(dir, "tokenizer", "tokenizer.json")} ({result.Vocab.Count} tokens)");
            return ExitCode.Ok;
        })));
        return cmd;
    }
}
