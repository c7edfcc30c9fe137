using System.Globalization;
using System.Text.Json;
using MiniMind.Model;

namespace MiniMind.Actors.Stages;

/// <summary>A train request resolved: the settings, and what the <c>train</c> header says about where they came from.</summary>
public sealed record ResolvedTrainRequest(TrainingSettings Settings, string ConfigName, IReadOnlyList<string> TrainConfigSources, string? FrozenHeader);

/// <summary>
/// Settings resolution for every way a run is asked for (<see cref="TrainRequest"/>): MiniMind's defaults
/// (<see cref="TrainingStage"/>) ← config/train/&lt;stage&gt;.json ← config/train/&lt;stage&gt;.&lt;preset&gt;.json
/// (or <c>trainConfig</c>) ← the request's fields; then validation, the previous stage's output, and the frozen model
/// (DPO's reference, distill's teacher: config inferred from the file's shapes, SHA-256 hashed). Bad fields are an
/// <see cref="ArgumentException"/> naming the flag/field; missing or unreadable inputs a FileNotFound/InvalidData exception
/// naming the file (and the command that makes it).
/// </summary>
public static class TrainRequestResolver
{
    /// <param name="locate">Finds a repository default file (sample data, tokenizer, config/train) from a relative path.</param>
    public static ResolvedTrainRequest Resolve(TrainRequest r, Func<string, string>? locate = null)
    {
        locate ??= p => p;
        var stage = TrainingStage.All.FirstOrDefault(s => s.Name == r.Stage)
            ?? throw new ArgumentException($"stage: unknown stage '{r.Stage}' (expected {string.Join(", ", TrainingStage.All.Select(s => s.Name))})");
        var name = stage.Name;
        if (r.LoraName is not null && stage != TrainingStage.Lora) throw new ArgumentException("--lora-name (loraName) applies to the lora stage only");
        if (r.Beta is not null && stage != TrainingStage.Dpo && stage != TrainingStage.Grpo) throw new ArgumentException("--beta (beta) applies to the dpo and grpo stages only");
        if ((r.NumGenerations is not null || r.LossType is not null || r.Epsilon is not null || r.EpsilonHigh is not null || r.MaxGenLen is not null
             || r.ThinkingRatio is not null || r.RewardUrl is not null) && stage != TrainingStage.Grpo)
            throw new ArgumentException("--num-generations, --loss-type, --epsilon, --epsilon-high, --max-gen-len, --thinking-ratio and --reward-url apply to the grpo stage only");
        if ((r.Teacher ?? r.TeacherPreset) is not null || r.Alpha is not null || r.Temperature is not null)
            if (stage != TrainingStage.Distill) throw new ArgumentException("--teacher, --teacher-preset, --alpha and --temperature apply to the distill stage only");
        if (r.SaveWeight is not null && stage == TrainingStage.Lora) throw new ArgumentException("--save-weight does not apply to the lora stage; its output is named by --lora-name");
        if (r.SaveWeight is { } sw && (sw.Length == 0 || sw.IndexOfAny(['/', '\\']) >= 0 || sw.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0))
            throw new ArgumentException($"--save-weight '{sw}' must be a plain file name prefix");
        if (r.FromResume is not null && stage == TrainingStage.Lora) throw new ArgumentException("--from-resume applies to the full-model stages; a LoRA run resumes from its own checkpoints");
        var modelFlags = r.HiddenSize is not null || r.NumHiddenLayers is not null || r.UseMoe is not null;
        // MiniMind builds MiniMindConfig(hidden_size, num_hidden_layers, use_moe) on its defaults: so do the model flags
        // without --config; with --config they override that config's fields.
        var configName = r.Config ?? (modelFlags ? "minimind" : "tiny");
        var file = TrainConfigFile.Load(r.TrainConfig, name, configName, locate);
        var det = r.Deterministic ?? false;
        var threads = r.Threads ?? 0;
        if (det && threads == 0) threads = 1;
        var model = ModelConfig(r, modelFlags);
        if (modelFlags) configName = Describe(r);
        var dir = r.RunDir ?? "runs/default";
        var settings = new TrainingSettings
        {
            Stage = name,
            ConfigJson = model.ToJson(),
            DataPath = r.Data ?? locate(file.Data ?? stage.DefaultData),
            TokenizerPath = r.Tokenizer ?? locate(DefaultTokenizer),
            RunDir = dir,
            Epochs = r.Epochs ?? file.Epochs ?? stage.Epochs,
            BatchSize = r.BatchSize ?? file.BatchSize ?? stage.BatchSize,
            MaxSeqLen = r.MaxSeqLen ?? file.MaxSeqLen ?? stage.MaxSeqLen,
            AccumulationSteps = r.AccumulationSteps ?? file.AccumulationSteps ?? stage.AccumulationSteps,
            LearningRate = r.LearningRate ?? file.LearningRate ?? stage.LearningRate,
            GradClip = r.GradClip ?? file.GradClip ?? 1.0,
            MaxSteps = r.MaxSteps ?? 0,
            SaveInterval = r.SaveInterval ?? file.SaveInterval ?? 100,
            LogInterval = r.LogInterval ?? file.LogInterval ?? 10,
            TensorBoard = r.TensorBoard ?? true,
            Seed = r.Seed ?? 42,
            Deterministic = det,
            Device = r.Device ?? "cpu",
            Threads = threads,
            Dtype = DtypeChoice.Resolve(r.Dtype ?? "auto", r.Device ?? "cpu", model.HiddenSize).Name,
            KeepCheckpoints = r.KeepCheckpoints ?? 3,
            SkipBadLines = r.SkipBadLines ?? false,
            InitFrom = FromWeight.Resolve(r.FromWeight, stage, dir, model),
            SaveWeight = r.SaveWeight,
            LoraName = r.LoraName ?? "lora_medical",
            DpoBeta = (stage == TrainingStage.Dpo ? r.Beta : null) ?? file.DpoBeta ?? 0.1,
            Alpha = r.Alpha ?? file.Alpha ?? 0.0,
            Temperature = r.Temperature ?? file.Temperature ?? 1.0,
            Grpo = stage == TrainingStage.Grpo ? GrpoOf(r, file) : null,
        };
        settings = settings with { Eval = EvalOf(r, stage, settings.SaveInterval) };
        (settings, var resumeHeader) = FromResume.Apply(settings, r.FromResume, r.SaveWeight ?? stage.OutputPrefix);
        Validate(settings, configName, settings.ResumeFrom is null ? r.FromWeight : null);
        (settings, var frozen) = WithFrozenModel(settings, r.Teacher, r.TeacherPreset, configName, locate);
        var header = string.Join("\n", new[] { resumeHeader, frozen }.Where(h => h is not null));
        return new ResolvedTrainRequest(settings, configName, file.Sources, header.Length == 0 ? null : header);
    }

    /// <summary>In-training evaluation (<c>--eval-data</c>): a held-out file in the stage's format; a missing file is a bad
    /// argument (exit 2, naming the flag), a malformed one bad input when it is prepared (file:line, as the training data).</summary>
    static EvalSettings? EvalOf(TrainRequest r, TrainingStage stage, int saveInterval)
    {
        if (r.EvalData is null)
        {
            if (r.EvalInterval is not null || r.EvalBatches is not null) throw new ArgumentException("--eval-interval and --eval-batches need --eval-data (the held-out file)");
            return null;
        }
        if (stage == TrainingStage.Dpo || stage == TrainingStage.Grpo)
            throw new ArgumentException($"--eval-data: not for the {stage.Name} stage (its loss is not a per-token cross-entropy; held-out perplexity needs pretrain/SFT-format data)");
        if (r.EvalData.Length == 0 || !File.Exists(r.EvalData)) throw new ArgumentException($"--eval-data {r.EvalData}: file not found");
        var e = new EvalSettings(r.EvalData, r.EvalInterval ?? saveInterval, r.EvalBatches ?? EvalSettings.DefaultBatches);
        if (e.Interval < 1) throw new ArgumentException($"--eval-interval {e.Interval}: must be ≥ 1");
        if (e.Batches < 1) throw new ArgumentException($"--eval-batches {e.Batches}: must be ≥ 1");
        return e;
    }

    /// <summary>GRPO's arguments: flags ← config/train/grpo*.json ← MiniMind's defaults.</summary>
    static GrpoSettings GrpoOf(TrainRequest r, TrainConfigFile file)
    {
        var d = new GrpoSettings();
        var g = new GrpoSettings
        {
            NumGenerations = r.NumGenerations ?? file.NumGenerations ?? d.NumGenerations,
            Beta = r.Beta ?? file.Beta ?? d.Beta,
            LossType = r.LossType ?? file.LossType ?? d.LossType,
            Epsilon = r.Epsilon ?? file.Epsilon ?? d.Epsilon,
            EpsilonHigh = r.EpsilonHigh ?? file.EpsilonHigh ?? d.EpsilonHigh,
            MaxGenLen = r.MaxGenLen ?? file.MaxGenLen ?? d.MaxGenLen,
            ThinkingRatio = r.ThinkingRatio ?? file.ThinkingRatio ?? d.ThinkingRatio,
            RewardUrl = r.RewardUrl,
        };
        if (g.NumGenerations < 2) throw new ArgumentException("--num-generations must be ≥ 2 (advantages compare completions within a group)");
        if (g.LossType is not ("cispo" or "grpo")) throw new ArgumentException($"--loss-type {g.LossType}: expected cispo or grpo");
        if (g.Beta < 0) throw new ArgumentException("--beta must be ≥ 0");
        if (g.Epsilon is <= 0 or >= 1) throw new ArgumentException("--epsilon must be in (0, 1)");
        if (g.EpsilonHigh <= 0) throw new ArgumentException("--epsilon-high must be > 0");
        if (g.MaxGenLen < 1) throw new ArgumentException("--max-gen-len must be ≥ 1");
        if (g.ThinkingRatio is < 0 or > 1) throw new ArgumentException("--thinking-ratio must be in [0, 1]");
        if (g.RewardUrl is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"))
            throw new ArgumentException($"--reward-url {url}: expected an http:// or https:// URL");
        return g;
    }

    /// <summary>The repository's tokenizer, relative to the repository root.</summary>
    public const string DefaultTokenizer = "dataset/tokenizer/tokenizer.json";

    /// <summary>The model config: --config (a preset or config.json; default tiny), or MiniMind's defaults when only
    /// the model flags are given, with --hidden-size, --num-hidden-layers and --use-moe on top.</summary>
    static MiniMindConfig ModelConfig(TrainRequest r, bool modelFlags)
    {
        var model = r.Config is null && modelFlags ? new MiniMindConfig() : MiniMindConfig.Load(r.Config ?? "tiny");
        if (!modelFlags) return model;
        if (r.HiddenSize is < 1) throw new ArgumentException("--hidden-size must be ≥ 1");
        if (r.NumHiddenLayers is < 1) throw new ArgumentException("--num-hidden-layers must be ≥ 1");
        model = model with
        {
            HiddenSize = r.HiddenSize ?? model.HiddenSize,
            NumHiddenLayers = r.NumHiddenLayers ?? model.NumHiddenLayers,
            UseMoe = r.UseMoe ?? model.UseMoe,
            IntermediateSize = r.HiddenSize is null ? model.IntermediateSize : null,   // MiniMind derives it from hidden_size
        };
        try { return model.Validate("--hidden-size/--num-hidden-layers"); }
        catch (InvalidDataException e) { throw new ArgumentException(e.Message, e); }
    }

    static string Describe(TrainRequest r) =>
        string.Join(" ", new[]
        {
            r.Config ?? "MiniMind defaults",
            r.HiddenSize is { } h ? $"--hidden-size {h}" : null,
            r.NumHiddenLayers is { } l ? $"--num-hidden-layers {l}" : null,
            r.UseMoe is { } m ? $"--use-moe {(m ? 1 : 0)}" : null,
        }.Where(p => p is not null));

    static void Validate(TrainingSettings s, string configName, string? fromWeight)
    {
        if (s.BatchSize < 1) throw new ArgumentException("--batch-size must be ≥ 1");
        if (s.AccumulationSteps < 1) throw new ArgumentException("--accumulation-steps must be ≥ 1");
        if (s.MaxSeqLen < 2) throw new ArgumentException("--max-seq-len must be ≥ 2");
        if (s.Epochs < 1) throw new ArgumentException("--epochs must be ≥ 1");
        if (s.MaxSteps < 0) throw new ArgumentException("--max-steps must be ≥ 0");
        if (s.LearningRate <= 0) throw new ArgumentException("--learning-rate must be > 0");
        if (s.Alpha is < 0 or > 1) throw new ArgumentException("--alpha must be in [0, 1]");
        if (s.Temperature <= 0) throw new ArgumentException("--temperature must be > 0");
        if (s.DpoBeta <= 0) throw new ArgumentException("--beta must be > 0");
        if (s.LoraName.Length == 0 || s.LoraName.IndexOfAny(['/', '\\']) >= 0 || s.LoraName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            throw new ArgumentException($"--lora-name '{s.LoraName}' must be a plain file name");
        if (s.Grpo is { } g && s.MaxSeqLen + g.MaxGenLen > s.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--max-seq-len {s.MaxSeqLen} + --max-gen-len {g.MaxGenLen} exceed the model's max_position_embeddings {s.Config.MaxPositionEmbeddings} (a prompt and its completion must fit)");
        if (s.MaxSeqLen > s.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--max-seq-len {s.MaxSeqLen} exceeds the model's max_position_embeddings {s.Config.MaxPositionEmbeddings}");
        if (!File.Exists(s.DataPath)) throw new FileNotFoundException($"training data not found: {s.DataPath}", s.DataPath);
        if (!File.Exists(s.TokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {s.TokenizerPath}", s.TokenizerPath);
        if (s.GradClip <= 0) throw new ArgumentException("--grad-clip must be > 0");
        var vocab = MiniMind.Model.Tokenizer.BpeTokenizer.FromFile(s.TokenizerPath).VocabSize;
        if (s.Config.VocabSize < vocab)
            throw new InvalidDataException(
                $"{(File.Exists(configName) ? configName : $"config preset '{configName}'")}: vocab_size {s.Config.VocabSize} is smaller than the tokenizer's " +
                $"{vocab} tokens ({s.TokenizerPath}): token ids up to {vocab - 1} would be out of range. HINT: set vocab_size to at least {vocab}.");
        if (fromWeight is not null && s.InitFrom is { } weights) FromWeight.Check(fromWeight, weights, s.Config);
        else if (s.InitFrom is { } init && !File.Exists(init))
        {
            var from = TrainingStage.Get(TrainingStage.Get(s.Stage).InitFrom!);
            throw new InvalidDataException(
                $"{s.Stage} starts from the {from.Name} output, but {init} does not exist. HINT: run `minimind train {from.Name} --run-dir {s.RunDir} --config {configName}` first.");
        }
    }

    /// <summary>DPO's reference (the SFT output) and distill's teacher: path, config and SHA-256 go into the settings,
    /// so a resumed run reloads the same file and a changed file is refused.</summary>
    static (TrainingSettings Settings, string? Header) WithFrozenModel(TrainingSettings s, string? teacher, string? teacherPreset, string configName, Func<string, string> locate)
    {
        if ((s.Stage == TrainingStage.Dpo.Name || s.Stage == TrainingStage.Grpo.Name) && s.InitFrom is null)
            throw new ArgumentException($"--from-weight none: {s.Stage.ToUpperInvariant()} starts from a model and uses it as its frozen reference; give a weight name or file");
        if (s.Stage == TrainingStage.Dpo.Name || s.Stage == TrainingStage.Grpo.Name)
            return (s with { FrozenModelPath = s.InitFrom, FrozenModelSha256 = StageObjective.Sha256(s.InitFrom!) }, $"  reference: {s.InitFrom} (frozen)");
        if (s.Stage != TrainingStage.Distill.Name) return (s, null);

        var student = s.Config;
        var presetConfig = teacherPreset is null ? null : MiniMindConfig.Load(teacherPreset);
        if (teacher is null && presetConfig is null && s.InitFrom is null)
            throw new ArgumentException("--from-weight none: the default teacher is the student's starting weights; pass --teacher <file>");
        var path = teacher ?? (presetConfig is null ? s.InitFrom! : Path.Combine(s.RunDir, TrainingSettings.OutputName("sft", presetConfig)));
        if (!File.Exists(path))
            throw new InvalidDataException(teacher is not null
                ? $"teacher weights not found: {path}"
                : $"distill's teacher is the SFT output of the teacher config, but {path} does not exist. HINT: run `minimind train sft --run-dir {s.RunDir} --config {teacherPreset}` first (after its pretrain), or pass --teacher <file>.");
        string source;
        MiniMindConfig config;
        if (presetConfig is not null) (source, config) = (teacherPreset!, presetConfig);
        else
        {
            var candidates = new List<(string, MiniMindConfig)> { ($"the student's config ({configName})", student) };
            candidates.AddRange(MiniMindConfig.PresetNames().Select(n => ($"preset {n}", MiniMindConfig.Load(n))));
            (source, config) = TeacherConfig.Infer(path, candidates);
        }
        return (s with
        {
            FrozenModelPath = path,
            FrozenModelSha256 = StageObjective.Sha256(path),
            FrozenConfigJson = config.ToJson() == s.ConfigJson ? null : config.ToJson(),
        }, $"  teacher  : {path} (frozen; config: {source}, hidden {config.HiddenSize}, layers {config.NumHiddenLayers}{(config.UseMoe ? ", moe" : "")})");
    }

    /// <summary>config/train/&lt;stage&gt;.json: MiniMind's defaults, overridden by flags.</summary>
    public sealed record TrainConfigFile
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
        [System.Text.Json.Serialization.JsonPropertyName("dpo_beta")] public double? DpoBeta { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("alpha")] public double? Alpha { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("temperature")] public double? Temperature { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("num_generations")] public int? NumGenerations { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("beta")] public double? Beta { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("loss_type")] public string? LossType { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("epsilon")] public double? Epsilon { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("epsilon_high")] public double? EpsilonHigh { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("max_gen_len")] public int? MaxGenLen { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("thinking_ratio")] public double? ThinkingRatio { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("_comment")] public string? Comment { get; init; }

        static readonly JsonSerializerOptions Strict = new() { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

        [System.Text.Json.Serialization.JsonIgnore] public IReadOnlyList<string> Sources { get; init; } = [];

        /// <summary>An explicit <paramref name="path"/>; otherwise config/train/&lt;stage&gt;.json (MiniMind's values) with
        /// config/train/&lt;stage&gt;.&lt;preset&gt;.json layered on top when present (e.g. the tiny preset's CPU quick start).</summary>
        public static TrainConfigFile Load(string? path, string stage, string preset, Func<string, string> locate)
        {
            if (path is not null)
            {
                if (!File.Exists(path)) throw new FileNotFoundException($"training config not found: {path}", path);
                return Read(path) with { Sources = [path] };
            }
            var result = new TrainConfigFile();
            var sources = new List<string>();
            foreach (var file in new[] { Path.Combine("config", "train", stage + ".json"), Path.Combine("config", "train", $"{stage}.{Path.GetFileNameWithoutExtension(preset)}.json") }
                         .Select(locate))
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
                    DpoBeta = f.DpoBeta ?? result.DpoBeta, Alpha = f.Alpha ?? result.Alpha, Temperature = f.Temperature ?? result.Temperature,
                    NumGenerations = f.NumGenerations ?? result.NumGenerations, Beta = f.Beta ?? result.Beta, LossType = f.LossType ?? result.LossType,
                    Epsilon = f.Epsilon ?? result.Epsilon, EpsilonHigh = f.EpsilonHigh ?? result.EpsilonHigh, MaxGenLen = f.MaxGenLen ?? result.MaxGenLen,
                    ThinkingRatio = f.ThinkingRatio ?? result.ThinkingRatio,
                };
            }
            return result with { Sources = sources };
        }

        static TrainConfigFile Read(string file)
        {
            try { return JsonSerializer.Deserialize<TrainConfigFile>(File.ReadAllText(file), Strict) ?? new TrainConfigFile(); }
            catch (JsonException e) { throw new InvalidDataException($"{file}: {e.Message} (known fields: data, epochs, batch_size, accumulation_steps, learning_rate, max_seq_len, grad_clip, save_interval, log_interval, dpo_beta, alpha, temperature, num_generations, beta, loss_type, epsilon, epsilon_high, max_gen_len, thinking_ratio)"); }
        }
    }
}
