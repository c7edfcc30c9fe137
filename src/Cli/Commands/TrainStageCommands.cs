using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MiniMind.Actors;
using MiniMind.Actors.Stages;
using Akka.Actor;
using MiniMind.Cluster;
using MiniMind.Cluster.Nodes;
using MiniMind.Model;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind train pretrain|sft|lora|dpo|reason|distill</c>: one training stage on the actor runtime.
/// Defaults are MiniMind's (<see cref="TrainingStage"/>, config/train/&lt;stage&gt;.json), flags override them. Each
/// stage after pretrain starts from the previous stage's output in the run dir, as MiniMind's scripts do. Re-running
/// the same command on the same run dir resumes; a completed run says so and exits 0. Ctrl+C finishes the current
/// step, checkpoints and exits 0.</summary>
public static class TrainStageCommands
{
    public static Command Pretrain(CliContext ctx) =>
        Stage(ctx, TrainingStage.Pretrain, "Pretrain a model from scratch on a {\"text\"} JSONL (MiniMind train_pretrain.py).");

    public static Command Sft(CliContext ctx) =>
        Stage(ctx, TrainingStage.Sft, "Full SFT from the pretrain output in the same run dir (MiniMind train_full_sft.py).");

    public static Command Lora(CliContext ctx) =>
        Stage(ctx, TrainingStage.Lora, "LoRA fine-tuning of the SFT output: only rank-8 adapters train; writes lora/<name>_<hidden>.pth (MiniMind train_lora.py).");

    public static Command Dpo(CliContext ctx) =>
        Stage(ctx, TrainingStage.Dpo, "DPO of the SFT output against a frozen copy of it on chosen/rejected pairs; writes rlhf_<hidden>.pth (MiniMind train_dpo.py).");

    public static Command Reason(CliContext ctx) =>
        Stage(ctx, TrainingStage.Reason, "Reasoning distillation: SFT on <think>/<answer> data with the tags weighted ×10, from the DPO output; writes reason_<hidden>.pth (MiniMind train_distill_reason.py).");

    public static Command Distill(CliContext ctx) =>
        Stage(ctx, TrainingStage.Distill, "Knowledge distillation from a teacher checkpoint into the SFT output: α·CE + (1−α)·T²·KL; writes full_dist_<hidden>.pth (MiniMind train_distillation.py).");

    public static Command Grpo(CliContext ctx) =>
        Stage(ctx, TrainingStage.Grpo, "RL from feedback: rollouts of the SFT output on RLAIF prompts, rewards, GRPO/CISPO loss against a frozen copy; writes grpo_<hidden>.pth (MiniMind train_grpo.py).");

    /// <summary>Every model stage, in pipeline order.</summary>
    public static Command[] All(CliContext ctx) => [Pretrain(ctx), Sft(ctx), Lora(ctx), Dpo(ctx), Reason(ctx), Distill(ctx), Grpo(ctx)];

    /// <summary>True when the parsed command drains itself on Ctrl+C (System.CommandLine must not force an exit).</summary>
    public static bool HandlesCtrlC(ParseResult parse) =>
        TrainingStage.All.Any(s => s.Name == parse.CommandResult.Command.Name) &&
        parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "train" };

    static Command Stage(CliContext ctx, TrainingStage stage, string description)
    {
        var v = Build(stage, description);
        v.Command.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var request = v.Request(parse);
            DeviceCheck.Validate(request.Device ?? "cpu");   // CUDA asked of a build or machine without it: exit 2 now, not a failing worker
            var r = TrainRequestResolver.Resolve(request, DefaultPaths.Resolve);
            var journalSpec = JournalSpec.Parse(parse.GetValue(v.Journal), r.Settings.RunDir);
            var control = ControlBinding.Parse(parse.GetValue(v.Control), parse.GetResult(v.Control) is { Implicit: false }, parse.GetValue(v.ControlToken));
            return await RunAsync(ctx, r.Settings, journalSpec, control, v.Alerts.Rules(parse), r.ConfigName, r.TrainConfigSources, r.FrozenHeader, ct);
        }));
        return v.Command;
    }

    /// <summary>The typed request `minimind train &lt;stage&gt; &lt;args&gt;` stands for, for a run started over the cluster
    /// (`minimind ctl train start`, sent as JSON): the same flags, the same checks on the node that resolves it. Bad flags
    /// are an <see cref="ArgumentException"/>; --journal and --control belong to the node, not to the run.</summary>
    public static TrainRequest ParseRequest(string stageName, IReadOnlyList<string> args)
    {
        stageName = MiniMindFlags.ScriptNames.GetValueOrDefault(stageName, stageName);   // MiniMind's script names (full_sft, …)
        var stage = TrainingStage.All.FirstOrDefault(s => s.Name == stageName)
            ?? throw new ArgumentException($"unknown stage '{stageName}' (expected {string.Join(", ", TrainingStage.All.Select(s => s.Name))})");
        var v = Build(stage, "");
        var parse = v.Command.Parse(MiniMindFlags.Rewrite(args, notes: null));
        if (parse.Errors.Count > 0) throw new ArgumentException(string.Join("; ", parse.Errors.Select(e => e.Message)));
        if (parse.GetResult(v.Journal) is { Implicit: false })
            throw new ArgumentException("--journal is set on the seed node (minimind node seed --journal …), not per run");
        if (parse.GetResult(v.Control) is { Implicit: false } || parse.GetResult(v.ControlToken) is { Implicit: false })
            throw new ArgumentException("--control belongs to the node (minimind node seed --control …), not to a run");
        if (v.Alerts.Given(parse))
            throw new ArgumentException("--alert-loss-spike and --alert-stall belong to the node (minimind node seed --alert-…), not to a run");
        return v.Request(parse);
    }

    /// <summary>A stage verb: its command, how a parse of it becomes a <see cref="TrainRequest"/>, and the node's options.</summary>
    sealed record Verb(Command Command, Func<ParseResult, TrainRequest> Request, Option<string> Journal, Option<string> Control, Option<string?> ControlToken,
        AlertOptions Alerts);

    /// <summary>The options of a stage verb and how a parse of them becomes a <see cref="TrainRequest"/> (resolved into
    /// settings by <see cref="TrainRequestResolver"/>, as the HTTP API's requests are).</summary>
    static Verb Build(TrainingStage stage, string description)
    {
        var name = stage.Name;
        var config = CommonOptions.Config();
        config.Aliases.Add("--preset");
        var data = new Option<string?>("--data") { Description = $"Training JSONL. Default: from config/train/{name}.json ({stage.DefaultData})." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = $"tokenizer.json. Default: {DefaultPaths.Tokenizer}." };
        var runDir = new Option<string>("--run-dir") { Description = "Run directory: journal, checkpoints, output. Default: runs/default.", DefaultValueFactory = _ => "runs/default" };
        var trainConfig = new Option<string?>("--train-config") { Description = $"Hyperparameter file. Default: config/train/{name}.json when present." };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after N optimizer steps (also the LR schedule's horizon). Default: all epochs." };
        var epochs = new Option<int?>("--epochs") { Description = $"Epochs. Default: {stage.Epochs}." };
        var batch = new Option<int?>("--batch-size") { Description = $"Samples{(name == "dpo" ? " (chosen/rejected pairs)" : "")} per micro-batch. Default: {stage.BatchSize}." };
        var seq = new Option<int?>("--max-seq-len") { Description = $"Tokens per sample. Default: {stage.MaxSeqLen}." };
        var accum = new Option<int?>("--accumulation-steps") { Description = $"Micro-batches per optimizer step. Default: {stage.AccumulationSteps}." };
        var lr = new Option<double?>("--learning-rate") { Description = $"Peak LR of the cosine schedule. Default: {stage.LearningRate.ToString(CultureInfo.InvariantCulture)}." };
        var save = new Option<int?>("--save-interval") { Description = "Checkpoint every K steps. Default: 100." };
        var logEvery = new Option<int?>("--log-interval") { Description = "Print a line every K steps. Default: 10." };
        var tensorBoard = new Option<string>("--tensorboard")
        {
            Description = "TensorBoard event files in <run dir>/tensorboard/<stage> (view: tensorboard --logdir <run dir>/tensorboard): on or off. Default: on.",
            DefaultValueFactory = _ => "on",
        };
        tensorBoard.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not ("on" or "off") and var v) r.AddError($"--tensorboard {v}: expected on or off");
        });
        var seed = new Option<ulong>("--seed") { Description = "Init and data-order seed. Default: 42.", DefaultValueFactory = _ => 42 };
        var deterministic = new Option<bool>("--deterministic") { Description = "Bitwise-reproducible CPU training (one torch thread unless --threads is given)." };
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var dtype = DtypeOption.Create();
        var journal = new Option<string>("--journal") { Description = "sqlite (a file in the run dir), sqlite:<file> or postgres:<connection string>; env:<VAR> or file:<path> read the spec from an environment variable or a file (keeps a password off the command line; it is never printed). Default: sqlite.", DefaultValueFactory = _ => "sqlite" };
        var control = new Option<string>("--control")
        {
            Description = $"Serve the control endpoint (ctl, /metrics, dashboard) at host:port, or off. Default: {ControlBinding.Default} (a free port when that one is busy).",
            DefaultValueFactory = _ => ControlBinding.Default,
        };
        var controlToken = NodeCommands.ControlToken();
        var keep = new Option<int>("--keep-checkpoints") { Description = "Checkpoints kept. Default: 3.", DefaultValueFactory = _ => 3 };
        var evalData = new Option<string?>("--eval-data")
        {
            Description = "Held-out JSONL in the stage's training format: its loss and perplexity (no gradients, worker-0's weights) every --eval-interval steps and after the last; " +
                          "in the log, run metrics, TensorBoard (eval/*) and the dashboard. Not for dpo/grpo. Default: none.",
        };
        var evalInterval = new Option<int?>("--eval-interval") { Description = "Evaluate on --eval-data after every N steps. Default: the --save-interval." };
        var evalBatches = new Option<int?>("--eval-batches") { Description = $"Batches of --eval-data scored: its first K × --batch-size samples, in file order. Default: {EvalSettings.DefaultBatches}." };
        var skipBadLines = new Option<bool>("--skip-bad-lines")
        {
            Description = "Skip training-data lines that are not valid samples and report them, instead of stopping at the first (as data prepare). Default: off.",
        };
        // stage-specific
        var loraName = new Option<string>("--lora-name") { Description = "LoRA adapter name: the output is lora/<name>_<hidden>.pth. Default: lora_medical.", DefaultValueFactory = _ => "lora_medical" };
        var beta = new Option<double?>("--beta") { Description = name == "grpo" ? "Weight of the KL to the frozen reference. Default: 0.1." : "DPO β. Default: 0.1." };
        var numGenerations = new Option<int?>("--num-generations") { Description = "Completions per prompt (a group). Default: 6." };
        var lossType = new Option<string?>("--loss-type") { Description = "cispo or grpo. Default: cispo." };
        lossType.AcceptOnlyFromAmong("cispo", "grpo");
        var epsilon = new Option<double?>("--epsilon") { Description = "GRPO's clip range 1 ± ε. Default: 0.2." };
        var epsilonHigh = new Option<double?>("--epsilon-high") { Description = "CISPO's cap of the ratio. Default: 5.0." };
        var maxGenLen = new Option<int?>("--max-gen-len") { Description = "Most tokens per completion. Default: 1024." };
        var thinkingRatio = new Option<double?>("--thinking-ratio") { Description = "Share of prompts that open a <think> block (the rest get an empty one). Default: 0.9." };
        var rewardUrl = new Option<string?>("--reward-url") { Description = "External reward model: POST {messages, response} → {score}, clamped to ±3, added to the rule reward (README: reward protocol). Default: rule rewards only." };
        var teacher = new Option<string?>("--teacher") { Description = "Teacher weights (.pth/.safetensors). Default: full_sft_<teacher hidden>.pth in the run dir (with --teacher-preset), else the student's own full_sft (self-distillation)." };
        var teacherPreset = new Option<string?>("--teacher-preset") { Description = "Teacher model config (preset or config.json). Default: inferred from the teacher file's shapes." };
        var alpha = new Option<double?>("--alpha") { Description = "Weight of the CE term: loss = α·CE + (1−α)·T²·KL. Default: 0 (MiniMind's train_epoch default)." };
        var temperature = new Option<double?>("--temperature") { Description = "Distillation temperature T. Default: 1.0 (MiniMind's train_epoch default)." };

        var cmd = new Command(name, description)
        {
            config, data, tokenizer, runDir, trainConfig, maxSteps, epochs, batch, seq, accum, lr, save, logEvery, tensorBoard, seed, deterministic, device, threads, dtype, journal, keep,
            skipBadLines, evalData, evalInterval, evalBatches, control, controlToken,
        };
        var alerts = new AlertOptions();
        foreach (var option in alerts.All) cmd.Options.Add(option);
        var minimind = new TrainModelOptions();
        foreach (var option in minimind.All) cmd.Options.Add(option);
        if (stage == TrainingStage.Lora) cmd.Options.Add(loraName);
        if (stage == TrainingStage.Dpo) cmd.Options.Add(beta);
        if (stage == TrainingStage.Grpo)
            foreach (var option in new Option[] { beta, numGenerations, lossType, epsilon, epsilonHigh, maxGenLen, thinkingRatio, rewardUrl }) cmd.Options.Add(option);
        if (stage == TrainingStage.Distill)
        {
            cmd.Options.Add(teacher);
            cmd.Options.Add(teacherPreset);
            cmd.Options.Add(alpha);
            cmd.Options.Add(temperature);
        }
        TrainRequest Request(ParseResult parse) => minimind.Apply(parse, new()
        {
            Stage = name,
            Config = parse.GetResult(config) is { Implicit: false } ? parse.GetValue(config) : null,   // null: tiny, or MiniMind's defaults under --hidden-size …
            Data = parse.GetValue(data),
            Tokenizer = parse.GetValue(tokenizer),
            RunDir = parse.GetValue(runDir),
            TrainConfig = parse.GetValue(trainConfig),
            MaxSteps = parse.GetValue(maxSteps),
            Epochs = parse.GetValue(epochs),
            BatchSize = parse.GetValue(batch),
            MaxSeqLen = parse.GetValue(seq),
            AccumulationSteps = parse.GetValue(accum),
            LearningRate = parse.GetValue(lr),
            SaveInterval = parse.GetValue(save),
            LogInterval = parse.GetValue(logEvery),
            TensorBoard = parse.GetResult(tensorBoard) is { Implicit: false } ? parse.GetValue(tensorBoard) == "on" : null,
            Seed = parse.GetValue(seed),
            Deterministic = parse.GetValue(deterministic),
            Device = parse.GetValue(device),
            Threads = parse.GetValue(threads),
            Dtype = parse.GetValue(dtype),
            KeepCheckpoints = parse.GetValue(keep),
            SkipBadLines = parse.GetResult(skipBadLines) is { Implicit: false } ? parse.GetValue(skipBadLines) : null,
            EvalData = parse.GetValue(evalData),
            EvalInterval = parse.GetValue(evalInterval),
            EvalBatches = parse.GetValue(evalBatches),
            LoraName = stage == TrainingStage.Lora ? parse.GetValue(loraName) : null,
            Beta = parse.GetValue(beta),
            Teacher = parse.GetValue(teacher),
            TeacherPreset = parse.GetValue(teacherPreset),
            Alpha = parse.GetValue(alpha),
            Temperature = parse.GetValue(temperature),
            NumGenerations = parse.GetValue(numGenerations),
            LossType = parse.GetValue(lossType),
            Epsilon = parse.GetValue(epsilon),
            EpsilonHigh = parse.GetValue(epsilonHigh),
            MaxGenLen = parse.GetValue(maxGenLen),
            ThinkingRatio = parse.GetValue(thinkingRatio),
            RewardUrl = parse.GetValue(rewardUrl),
        });
        return new Verb(cmd, Request, journal, control, controlToken, alerts);
    }

    static async Task<ExitCode> RunAsync(CliContext ctx, TrainingSettings s, JournalSpec journal, ControlBinding control, MiniMind.Cluster.Metrics.AlertRules alerts, string configName,
        IReadOnlyList<string> trainConfigs, string? frozenHeader, CancellationToken ct)
    {
        // Ctrl+C (SIGINT) or SIGTERM, at any phase: before the node is up the run stops as soon as it starts; mid-run the
        // current step finishes, a checkpoint is written and the exit code is 0; once training has finished the signal is
        // only acknowledged (shutdown is already under way, the exit code stays the run's). A second signal aborts at once.
        // Registered for the whole command, until after the node has stopped (then Program ignores them until exit):
        // without a registration the runtime's default handling would exit with 130/143 in a finished run's shutdown.
        using var signals = new StopSignals(ctx.Error);
        using var runDirLock = RunDirLock.Acquire(s.RunDir);   // a second `train` on this run dir fails here, naming the holder
        var (address, note) = control.Resolve();   // an explicitly given busy port fails here, before anything starts
        // A damaged journal fails here (exit 3, naming the file and `minimind run repair`); a missing or empty one is
        // rebuilt from the checkpoints once the node is up, before the run starts.
        var rebuild = JournalPreflight.ForTraining(journal, s);
        TorchRuntime.SetThreads(s.Threads);
        var cfg = s.Config;
        var o = ctx.Out;
        o.WriteLine($"minimind train {s.Stage}");
        o.WriteLine($"  config   : {configName} (hidden {cfg.HiddenSize}, layers {cfg.NumHiddenLayers}, heads {cfg.NumAttentionHeads}/{cfg.NumKeyValueHeads}, vocab {cfg.VocabSize}{(cfg.UseMoe ? ", moe" : "")})");
        o.WriteLine($"  device   : {s.Device}, torch threads {(s.Threads > 0 ? s.Threads.ToString(CultureInfo.InvariantCulture) : "default")}{(s.Deterministic ? ", deterministic" : "")}");
        o.WriteLine($"  runtime  : {MiniMind.Model.Native.NativeStartup.Describe()}");
        o.WriteLine(DtypeOption.Header(s.Dtype, s.Device, cfg));
        var previousDtype = DtypeOption.Previous(s.CheckpointDir);
        o.WriteLine($"  data     : {s.DataPath} (tokenizer {s.TokenizerPath})");
        if (s.Eval is { } held) o.WriteLine($"  eval     : {held.DataPath}, {held.Batches} batch(es) of {s.BatchSize} every {held.Interval} steps and after the last");
        o.WriteLine($"  run dir  : {Path.GetFullPath(s.RunDir)}{(s.InitFrom is null ? "" : $" (from {s.InitFrom})")}");
        o.WriteLine($"  journal  : {journal.Display}");
        o.WriteLine(FormattableString.Invariant($"  schedule : {s.Epochs} epoch(s), batch {s.BatchSize} × accumulation {s.AccumulationSteps}, seq {s.MaxSeqLen}, lr {s.LearningRate:G3} cosine, AdamW wd {s.WeightDecay}, clip {s.GradClip}, save every {s.SaveInterval}"));
        if (s.Stage == TrainingStage.Lora.Name) o.WriteLine($"  lora     : rank {s.LoraRank} on every square Linear, only the adapters train → {s.OutputFileName}");
        if (frozenHeader is not null) o.WriteLine(frozenHeader);
        if (s.Stage == TrainingStage.Dpo.Name) o.WriteLine(FormattableString.Invariant($"  dpo      : β {s.DpoBeta}, sequence-averaged log-probs"));
        if (s.Stage == TrainingStage.Distill.Name) o.WriteLine(FormattableString.Invariant($"  distill  : loss = {s.Alpha}·CE + {1 - s.Alpha}·T²·KL, T {s.Temperature}"));
        o.WriteLine($"  hyperparameters from: {(trainConfigs.Count == 0 ? "built-in MiniMind defaults" : string.Join(" + ", trainConfigs))}, then flags");
        o.Flush();
        // The data is prepared (or its prepared copy checked) before the node starts: a malformed line is one error naming
        // file and line (exit 3), not a coordinator failure; lines skipped with --skip-bad-lines are reported here.
        StageData.Prepare(s, line => ctx.Error.WriteLine(line));
        if (s.Eval is { } eval)
        {
            StageData.Prepare(s with { DataPath = eval.DataPath }, line => ctx.Error.WriteLine(line));   // a bad line: exit 3, file:line
        }

        var clock = Stopwatch.StartNew();
        // A terminal gets a progress bar (with ETA) under the step lines; a file or pipe gets the plain lines only.
        var bar = new ProgressBar(ctx);
        var summary = new RunSummaryLine(s.Stage);
        void Report(RunReported r)
        {
            lock (o)
            {
                summary = summary.With(r);
                switch (r.Report)
                {
                    case TrainingBegan b:
                        o.WriteLine(b.Resumed
                            ? $"resumed from {b.Checkpoint ?? s.ResumeFrom} at step {b.FromStep}/{b.TotalSteps}"
                            : $"started: {b.SampleCount} samples, {b.TotalSteps} steps, {b.ParameterCount / 1e6:0.###}M parameters");
                        if (DtypeOption.Started(s.CheckpointDir, s.Dtype, previousDtype, b.Resumed) is { } dtypeNote) o.WriteLine(dtypeNote);
                        previousDtype = s.Dtype;
                        break;
                    case TrainingProgress p:
                        // tokens/s: the run manager's (TrainingRate), the same number ctl, /metrics and the dashboard show
                        var tps = r.Rates.TokensPerSecond is { } t ? t.ToString("0", CultureInfo.InvariantCulture) : "--";
                        var eta = r.Rates.Eta is { } e ? e.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "--:--:--";
                        bar.Line(FormattableString.Invariant(
                            $"step {p.Step}/{p.TotalSteps} | epoch {p.Epoch + 1} | loss {p.Loss:0.0000} | lr {p.Lr:0.000e+00} | grad norm {p.GradNorm:0.000} | {tps} tok/s | ETA {eta}{(p.Rl is { } rl ? " | " + rl.Describe() : "")}"));
                        if (bar.Interactive) bar.Report((double)p.Step / Math.Max(1, p.TotalSteps), $"step {p.Step}/{p.TotalSteps}");
                        break;
                    case TrainingNotice n:
                        ctx.Error.WriteLine(n.Text);
                        break;
                    case EvalMeasured ev:
                        bar.Line(FormattableString.Invariant(
                            $"eval step {ev.Step} | loss {ev.Loss:0.0000} | ppl {ev.Perplexity:0.00} | {ev.Tokens:N0} tokens, {ev.Samples} samples | {ev.Elapsed.TotalSeconds:0.0} s"));
                        break;
                }
                o.Flush();
            }
        }

        using var reg = ct.Register(signals.Request);
        // One runtime (issue 11): the node a seed runs, as a cluster of one: run manager, coordinator, worker,
        // aggregator, checkpoint writer, control endpoint.
        var options = NodeOptions.ForTraining(s, journal, address, control.Token) with
        {
            TrainRequests = new TrainRequests(DefaultPaths.Resolve),
            Hooks = TestHooks.FromEnvironment(),
            Alerts = alerts,
        };
        NodeHost started;
        try
        {
            started = await NodeHost.StartAsync(options, CancellationToken.None);
        }
        catch (IOException e) when (address is not null && control.Fallback(address) is { } free)
        {
            // another process bound the default port between the check and the bind: a free port, as the check would have
            (address, note) = (free, $" ({address} is busy: a free port instead)");
            ctx.Error.WriteLine($"warning: {e.Message}");
            started = await NodeHost.StartAsync(options with { Control = address }, CancellationToken.None);
        }
        await using var node = started;
        lock (o)
        {
            o.WriteLine(node.ControlUrl is { } url
                ? $"  control  : {url} (minimind ctl --host {url["http://".Length..]} …; metrics {url}/metrics; dashboard {url}/){note}"
                : "  control  : off");
            o.Flush();
        }
        if (rebuild is not null)
        {
            await node.RebuildJournalAsync(rebuild.Run, TimeSpan.FromMinutes(1));
            ctx.Error.WriteLine(rebuild.Warning(journal.SqliteFile!));
        }
        if (journal == JournalSpec.Parse("sqlite", s.RunDir) &&
            await node.AdoptLegacyJournalAsync(s, TimeSpan.FromMinutes(1)) is > 0 and var adopted)
            ctx.Error.WriteLine($"journal: adopted this run dir's {adopted} events journaled by an older minimind under {RunIdentity.LegacyCoordinatorPersistenceId(s)}");
        var run = await node.TrainAsync(s, Report, CancellationToken.None);
        signals.Attach(run.Stop);
        var finished = await run.Finished;
        bar.Finish();
        signals.Finished();
        TrainingState? state = null;
        if (finished.Outcome != Outcome.Failed)
        {
            try { state = await run.FetchStatusAsync(TimeSpan.FromSeconds(30)); }
            catch (Exception e) when (e is TimeoutException or AskTimeoutException) { }
        }
        var last = summary.Line(run.RunId, finished, state, clock.Elapsed);
        switch (finished.Outcome)
        {
            case Outcome.Completed:
            case Outcome.AlreadyCompleted:
            case Outcome.Stopped:
                o.WriteLine(finished.Message);
                o.WriteLine(FormattableString.Invariant($"elapsed {clock.Elapsed:hh\\:mm\\:ss}"));
                o.WriteLine(last);
                o.Flush();
                return ExitCode.Ok;
            default:
                o.WriteLine(last);
                o.Flush();
                // the kind decides the exit code (FailureExit); the journal's kinds add the repair command or a hint
                throw finished.Failure switch
                {
                    FailureKind.JournalDamaged when journal.SqliteFile is not null =>
                        new CliException(ExitCode.InputError, JournalPreflight.Damaged(journal, s.RunDir, finished.Message).Message),
                    FailureKind.JournalDamaged or FailureKind.JournalUnavailable => new CliException(ExitCode.Error,
                        $"training failed: {finished.Message}. HINT: check that the journal ({journal.Display}) is reachable, then re-run the same command to resume."),
                    FailureKind.BadInput or FailureKind.BadArguments or FailureKind.OutputNotWritable => new CliException(FailureExit.For(finished.Failure), finished.Message),
                    _ => new CliException(ExitCode.Error, $"training failed: {finished.Message}."),
                };
        }
    }
}
