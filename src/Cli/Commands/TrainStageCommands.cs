using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Model;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind train pretrain|sft</c>: one training stage on the actor runtime. Defaults are MiniMind's
/// (config/train/&lt;stage&gt;.json), flags override them. Re-running the same command on the same run dir resumes;
/// a completed run says so and exits 0. Ctrl+C finishes the current step, checkpoints and exits 0.</summary>
public static class TrainStageCommands
{
    public static Command Pretrain(CliContext ctx) =>
        Stage(ctx, "pretrain", "Pretrain a model from scratch on a {\"text\"} JSONL (MiniMind train_pretrain.py).");

    public static Command Sft(CliContext ctx) =>
        Stage(ctx, "sft", "Full SFT from the pretrain output in the same run dir (MiniMind train_full_sft.py).");

    /// <summary>True when the parsed command drains itself on Ctrl+C (System.CommandLine must not force an exit).</summary>
    public static bool HandlesCtrlC(ParseResult parse) =>
        parse.CommandResult.Command.Name is "pretrain" or "sft" && parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "train" };

    public static Command Stage(CliContext ctx, string stage, string description)
    {
        var o = new StageOptions(stage);
        var cmd = o.Command(description);
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var (settings, file) = o.Resolve(parse);
            var journalSpec = JournalSpec.Parse(parse.GetValue(o.Journal), settings.RunDir);
            return await RunAsync(ctx, settings, journalSpec, parse.GetValue(o.Config)!, file.Sources, ct);
        }));
        return cmd;
    }

    /// <summary>The settings `minimind train &lt;stage&gt; &lt;args&gt;` would run with, for a run started over the cluster
    /// (`minimind ctl train start`): same flags, same defaults and checks, paths made absolute on the seed.
    /// Bad flags are an <see cref="ArgumentException"/>; --journal belongs to the seed node, not to the run.</summary>
    public static TrainingSettings ParseSettings(string stage, IReadOnlyList<string> args)
    {
        if (stage is not ("pretrain" or "sft")) throw new ArgumentException($"unknown stage '{stage}' (expected pretrain or sft)");
        var o = new StageOptions(stage);
        var parse = o.Command("").Parse(args.ToArray());
        if (parse.Errors.Count > 0) throw new ArgumentException(string.Join("; ", parse.Errors.Select(e => e.Message)));
        if (parse.GetResult(o.Journal) is { Implicit: false })
            throw new ArgumentException("--journal is set on the seed node (minimind node seed --journal …), not per run");
        var s = o.Resolve(parse).Settings;
        return s with
        {
            DataPath = Path.GetFullPath(s.DataPath), TokenizerPath = Path.GetFullPath(s.TokenizerPath), RunDir = Path.GetFullPath(s.RunDir),
            InitFrom = s.InitFrom is null ? null : Path.GetFullPath(s.InitFrom),
        };
    }

    /// <summary>The options of a stage verb and how they resolve into <see cref="TrainingSettings"/>.</summary>
    sealed class StageOptions
    {
        readonly string stage;
        public readonly Option<string> Config = CommonOptions.Config();
        readonly Option<string?> data;
        readonly Option<string> tokenizer = new("--tokenizer") { Description = "tokenizer.json. Default: dataset/tokenizer/tokenizer.json.", DefaultValueFactory = _ => "dataset/tokenizer/tokenizer.json" };
        readonly Option<string> runDir = new("--run-dir") { Description = "Run directory: journal, checkpoints, output. Default: runs/default.", DefaultValueFactory = _ => "runs/default" };
        readonly Option<string?> trainConfig;
        readonly Option<long?> maxSteps = new("--max-steps") { Description = "Stop after N optimizer steps (also the LR schedule's horizon). Default: all epochs." };
        readonly Option<int?> epochs;
        readonly Option<int?> batch;
        readonly Option<int?> seq = new("--max-seq-len") { Description = "Tokens per sample. Default: 512." };
        readonly Option<int?> accum;
        readonly Option<double?> lr;
        readonly Option<int?> save = new("--save-interval") { Description = "Checkpoint every K steps. Default: 100." };
        readonly Option<int?> logEvery = new("--log-interval") { Description = "Print a line every K steps. Default: 10." };
        readonly Option<ulong> seed = new("--seed") { Description = "Init and data-order seed. Default: 42.", DefaultValueFactory = _ => 42 };
        readonly Option<bool> deterministic = new("--deterministic") { Description = "Bitwise-reproducible CPU training (one torch thread unless --threads is given)." };
        readonly Option<string> device = CommonOptions.Device();
        readonly Option<int> threads = CommonOptions.Threads();
        public readonly Option<string> Journal = new("--journal") { Description = "sqlite (a file in the run dir), sqlite:<file> or postgres:<connection string>. Default: sqlite.", DefaultValueFactory = _ => "sqlite" };
        readonly Option<int> keep = new("--keep-checkpoints") { Description = "Checkpoints kept. Default: 3.", DefaultValueFactory = _ => 3 };

        public StageOptions(string stage)
        {
            this.stage = stage;
            data = new("--data") { Description = $"Training JSONL. Default: from config/train/{stage}.json (dataset/{(stage == "sft" ? "sft" : "pretrain")}.jsonl)." };
            trainConfig = new("--train-config") { Description = $"Hyperparameter file. Default: config/train/{stage}.json when present." };
            epochs = new("--epochs") { Description = $"Epochs. Default: {(stage == "sft" ? 2 : 1)}." };
            batch = new("--batch-size") { Description = $"Samples per micro-batch. Default: {(stage == "sft" ? 16 : 32)}." };
            accum = new("--accumulation-steps") { Description = $"Micro-batches per optimizer step. Default: {(stage == "sft" ? 1 : 8)}." };
            lr = new("--learning-rate") { Description = $"Peak LR of the cosine schedule. Default: {(stage == "sft" ? "5e-7" : "5e-4")}." };
        }

        public Command Command(string description) => new(stage, description)
        {
            Config, data, tokenizer, runDir, trainConfig, maxSteps, epochs, batch, seq, accum, lr, save, logEvery, seed, deterministic, device, threads, Journal, keep,
        };

        public (TrainingSettings Settings, TrainConfigFile File) Resolve(ParseResult parse)
        {
            var file = TrainConfigFile.Load(parse.GetValue(trainConfig), stage, parse.GetValue(Config)!);
            var det = parse.GetValue(deterministic);
            var t = parse.GetValue(threads);
            if (det && t == 0) t = 1;
            var model = MiniMindConfig.Load(parse.GetValue(Config)!);
            var dir = parse.GetValue(runDir)!;
            var settings = new TrainingSettings
            {
                Stage = stage,
                ConfigJson = model.ToJson(),
                DataPath = parse.GetValue(data) ?? file.Data ?? $"dataset/{(stage == "sft" ? "sft" : "pretrain")}.jsonl",
                TokenizerPath = parse.GetValue(tokenizer)!,
                RunDir = dir,
                Epochs = parse.GetValue(epochs) ?? file.Epochs ?? (stage == "sft" ? 2 : 1),
                BatchSize = parse.GetValue(batch) ?? file.BatchSize ?? (stage == "sft" ? 16 : 32),
                MaxSeqLen = parse.GetValue(seq) ?? file.MaxSeqLen ?? 512,
                AccumulationSteps = parse.GetValue(accum) ?? file.AccumulationSteps ?? (stage == "sft" ? 1 : 8),
                LearningRate = parse.GetValue(lr) ?? file.LearningRate ?? (stage == "sft" ? 5e-7 : 5e-4),
                GradClip = file.GradClip ?? 1.0,
                MaxSteps = parse.GetValue(maxSteps) ?? 0,
                SaveInterval = parse.GetValue(save) ?? file.SaveInterval ?? 100,
                LogInterval = parse.GetValue(logEvery) ?? file.LogInterval ?? 10,
                Seed = parse.GetValue(seed),
                Deterministic = det,
                Device = parse.GetValue(device)!,
                Threads = t,
                KeepCheckpoints = parse.GetValue(keep),
                InitFrom = stage == "sft" ? Path.Combine(dir, TrainingSettings.OutputName("pretrain", model)) : null,
            };
            Validate(settings);
            return (settings, file);
        }
    }

    static void Validate(TrainingSettings s)
    {
        if (s.BatchSize < 1) throw new ArgumentException("--batch-size must be ≥ 1");
        if (s.AccumulationSteps < 1) throw new ArgumentException("--accumulation-steps must be ≥ 1");
        if (s.MaxSeqLen < 2) throw new ArgumentException("--max-seq-len must be ≥ 2");
        if (s.Epochs < 1) throw new ArgumentException("--epochs must be ≥ 1");
        if (s.MaxSteps < 0) throw new ArgumentException("--max-steps must be ≥ 0");
        if (s.LearningRate <= 0) throw new ArgumentException("--learning-rate must be > 0");
        if (s.MaxSeqLen > s.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--max-seq-len {s.MaxSeqLen} exceeds the model's max_position_embeddings {s.Config.MaxPositionEmbeddings}");
        if (!File.Exists(s.DataPath)) throw new FileNotFoundException($"training data not found: {s.DataPath}", s.DataPath);
        if (!File.Exists(s.TokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {s.TokenizerPath}", s.TokenizerPath);
        if (s.InitFrom is { } init && !File.Exists(init))
            throw new CliException(ExitCode.InputError, $"SFT starts from the pretrain output, but {init} does not exist. HINT: run `minimind train pretrain --run-dir {s.RunDir}` (same --config) first.");
    }

    static async Task<ExitCode> RunAsync(CliContext ctx, TrainingSettings s, JournalSpec journal, string configName, IReadOnlyList<string> trainConfigs, CancellationToken ct)
    {
        TorchRuntime.SetThreads(s.Threads);
        var cfg = s.Config;
        var o = ctx.Out;
        o.WriteLine($"minimind train {s.Stage}");
        o.WriteLine($"  config   : {configName} (hidden {cfg.HiddenSize}, layers {cfg.NumHiddenLayers}, heads {cfg.NumAttentionHeads}/{cfg.NumKeyValueHeads}, vocab {cfg.VocabSize}{(cfg.UseMoe ? ", moe" : "")})");
        o.WriteLine($"  device   : {s.Device}, torch threads {(s.Threads > 0 ? s.Threads.ToString(CultureInfo.InvariantCulture) : "default")}{(s.Deterministic ? ", deterministic" : "")}");
        o.WriteLine($"  data     : {s.DataPath} (tokenizer {s.TokenizerPath})");
        o.WriteLine($"  run dir  : {Path.GetFullPath(s.RunDir)}{(s.InitFrom is null ? "" : $" (from {s.InitFrom})")}");
        o.WriteLine($"  journal  : {journal.Display}");
        o.WriteLine(FormattableString.Invariant($"  schedule : {s.Epochs} epoch(s), batch {s.BatchSize} × accumulation {s.AccumulationSteps}, seq {s.MaxSeqLen}, lr {s.LearningRate:G3} cosine, AdamW wd {s.WeightDecay}, clip {s.GradClip}, save every {s.SaveInterval}"));
        o.WriteLine($"  hyperparameters from: {(trainConfigs.Count == 0 ? "built-in MiniMind defaults" : string.Join(" + ", trainConfigs))}, then flags");
        o.Flush();

        var clock = Stopwatch.StartNew();
        // A terminal gets a progress bar (with ETA) under the step lines; a file or pipe gets the plain lines only.
        var bar = new ProgressBar(ctx);
        var lastReport = TimeSpan.Zero;
        long lastStep = 0, tokensSinceReport = 0, startStep = 0;
        var tokensPerStep = (long)s.BatchSize * s.AccumulationSteps * (s.MaxSeqLen - 1);
        void Report(object m)
        {
            lock (o)
            {
                switch (m)
                {
                    case TrainingBegan b:
                        startStep = lastStep = b.FromStep;
                        lastReport = clock.Elapsed;
                        o.WriteLine(b.Resumed
                            ? $"resumed from {b.Checkpoint} at step {b.FromStep}/{b.TotalSteps}"
                            : $"started: {b.SampleCount} samples, {b.TotalSteps} steps, {b.ParameterCount / 1e6:0.###}M parameters");
                        break;
                    case TrainingProgress p:
                        var now = clock.Elapsed;
                        var dt = (now - lastReport).TotalSeconds;
                        tokensSinceReport = (p.Step - lastStep) * tokensPerStep;
                        var tps = dt > 0 ? tokensSinceReport / dt : 0;
                        var perStep = (now.TotalSeconds) / Math.Max(1, p.Step - startStep);
                        var eta = TimeSpan.FromSeconds(perStep * (p.TotalSteps - p.Step));
                        bar.Line(FormattableString.Invariant(
                            $"step {p.Step}/{p.TotalSteps} | epoch {p.Epoch + 1} | loss {p.Loss:0.0000} | lr {p.Lr:0.000e+00} | grad norm {p.GradNorm:0.000} | {tps:0} tok/s | ETA {eta:hh\\:mm\\:ss}"));
                        if (bar.Interactive) bar.Report((double)p.Step / Math.Max(1, p.TotalSteps), $"step {p.Step}/{p.TotalSteps}");
                        lastReport = now;
                        lastStep = p.Step;
                        break;
                    case TrainingNotice n:
                        ctx.Error.WriteLine(n.Text);
                        break;
                }
                o.Flush();
            }
        }

        await using var run = await TrainingRun.StartAsync(new TrainingRunOptions
        {
            Settings = s,
            Journal = journal,
            CheckpointWriteDelay = TimeSpan.FromMilliseconds(EnvInt("MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS")),
            Faults = new FaultPlan(EnvLongs("MINIMIND_TEST_FAULT_STEPS")),
        }, Report, CancellationToken.None);

        // Ctrl+C (SIGINT) or SIGTERM: finish the current step, checkpoint, exit 0. A second signal aborts at once.
        var stopping = 0;
        void OnSignal(System.Runtime.InteropServices.PosixSignalContext c)
        {
            if (Interlocked.Exchange(ref stopping, 1) != 0) return;
            c.Cancel = true;
            ctx.Error.WriteLine("stopping: finishing the current step and writing a checkpoint (Ctrl+C again to abort)…");
            run.Stop();
        }
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, OnSignal);
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, OnSignal);
        using var reg = ct.Register(run.Stop);
        var finished = await run.Finished;
        bar.Finish();
        switch (finished.Outcome)
        {
            case Outcome.Completed:
            case Outcome.AlreadyCompleted:
            case Outcome.Stopped:
                o.WriteLine(finished.Message);
                o.WriteLine(FormattableString.Invariant($"elapsed {clock.Elapsed:hh\\:mm\\:ss}"));
                return ExitCode.Ok;
            default:
                var hint = finished.Message.StartsWith("journal", StringComparison.Ordinal)
                    ? $" HINT: check that the journal ({journal.Display}) is reachable, then re-run the same command to resume." : "";
                throw new CliException(ExitCode.Error, $"training failed: {finished.Message}.{hint}");
        }
    }

    static int EnvInt(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;

    static long[] EnvLongs(string name) =>
        (Environment.GetEnvironmentVariable(name) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>config/train/&lt;stage&gt;.json: MiniMind's defaults, overridden by flags.</summary>
    sealed record TrainConfigFile
    {
        [System.Text.Json.Serialization.JsonPropertyName("data")] public string? Data { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("epochs")] public int? Epochs { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("batch_size")] public int? BatchSize { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("accumulation_steps")] public int? AccumulationSteps { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("learning_rate")] public double? LearningRate { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("max_seq_len")] public int? MaxSeqLen { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("grad_clip")] public double? GradClip { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("save_interval")] public int? SaveInterval { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("log_interval")] public int? LogInterval { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("_comment")] public string? Comment { get; init; }

        static readonly JsonSerializerOptions Strict = new() { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

        [System.Text.Json.Serialization.JsonIgnore] public IReadOnlyList<string> Sources { get; init; } = [];

        /// <summary>An explicit <paramref name="path"/>; otherwise config/train/&lt;stage&gt;.json (MiniMind's values) with
        /// config/train/&lt;stage&gt;.&lt;preset&gt;.json layered on top when present (e.g. the tiny preset's CPU quick start).</summary>
        public static TrainConfigFile Load(string? path, string stage, string preset)
        {
            if (path is not null)
            {
                if (!File.Exists(path)) throw new FileNotFoundException($"training config not found: {path}", path);
                return Read(path) with { Sources = [path] };
            }
            var result = new TrainConfigFile();
            var sources = new List<string>();
            foreach (var file in new[] { Path.Combine("config", "train", stage + ".json"), Path.Combine("config", "train", $"{stage}.{Path.GetFileNameWithoutExtension(preset)}.json") }
                         .Select(DefaultPaths.Resolve))
            {
                if (!File.Exists(file)) continue;
                var f = Read(file);
                sources.Add(file);
                result = new TrainConfigFile
                {
                    Data = f.Data ?? result.Data, Epochs = f.Epochs ?? result.Epochs, BatchSize = f.BatchSize ?? result.BatchSize,
                    AccumulationSteps = f.AccumulationSteps ?? result.AccumulationSteps, LearningRate = f.LearningRate ?? result.LearningRate,
                    MaxSeqLen = f.MaxSeqLen ?? result.MaxSeqLen, GradClip = f.GradClip ?? result.GradClip,
                    SaveInterval = f.SaveInterval ?? result.SaveInterval, LogInterval = f.LogInterval ?? result.LogInterval,
                };
            }
            return result with { Sources = sources };
        }

        static TrainConfigFile Read(string file)
        {
            try { return JsonSerializer.Deserialize<TrainConfigFile>(File.ReadAllText(file), Strict) ?? new TrainConfigFile(); }
            catch (JsonException e) { throw new InvalidDataException($"{file}: {e.Message} (known fields: data, epochs, batch_size, accumulation_steps, learning_rate, max_seq_len, grad_clip, save_interval, log_interval)"); }
        }
    }
}
