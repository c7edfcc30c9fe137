using System.Text.Json;
using System.Text.Json.Serialization;
using MiniMind.Model;

namespace MiniMind.Actors;

/// <summary>Everything that fixes a run's arithmetic: model config, data, hyperparameters (MiniMind's trainer args).
/// Serialized into <see cref="Protocol.RunStarted"/>, so a resumed run can check it is the same run.</summary>
public sealed record TrainingSettings
{
    /// <summary>pretrain, sft, lora, dpo, reason or distill (<see cref="Stages.TrainingStage"/>).</summary>
    public string Stage { get; init; } = "pretrain";
    /// <summary>The model config JSON (MiniMindConfig.ToJson()).</summary>
    public string ConfigJson { get; init; } = "";
    public string DataPath { get; init; } = "dataset/pretrain.jsonl";
    public string TokenizerPath { get; init; } = "dataset/tokenizer/tokenizer.json";
    public string RunDir { get; init; } = "runs/default";
    /// <summary>MiniMind pretrain: 1, SFT: 2.</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Samples per micro-batch. MiniMind pretrain: 32, SFT: 16.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>MiniMind's max_seq_len: token ids per sample before the X/Y shift (samples have MaxSeqLen − 1 positions).</summary>
    public int MaxSeqLen { get; init; } = 512;
    /// <summary>Micro-batches per optimizer step. MiniMind pretrain: 8, SFT: 1.</summary>
    public int AccumulationSteps { get; init; } = 8;
    /// <summary>Peak LR of MiniMind's cosine schedule. Pretrain 5e-4, SFT 5e-7.</summary>
    public double LearningRate { get; init; } = 5e-4;
    public double WeightDecay { get; init; } = 0.01;
    public double GradClip { get; init; } = 1.0;
    /// <summary>Optimizer steps to run at most (0 = all epochs). Also the horizon of the LR schedule when smaller.</summary>
    public long MaxSteps { get; init; }
    /// <summary>Checkpoint every K optimizer steps.</summary>
    public int SaveInterval { get; init; } = 100;
    public int LogInterval { get; init; } = 10;
    /// <summary>Write TensorBoard event files into &lt;run dir&gt;/tensorboard (<c>--tensorboard on|off</c>). Default: on.</summary>
    public bool TensorBoard { get; init; } = true;
    public ulong Seed { get; init; } = 42;
    public bool Deterministic { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>The matmul precision, "fp32" or "bf16" (<see cref="DtypeChoice"/>, resolved from --dtype). Not part of
    /// <see cref="Identity"/>: master weights, AdamW state and checkpoints are fp32 either way, so a run may resume in
    /// the other dtype.</summary>
    public string Dtype { get; init; } = "fp32";
    public int Threads { get; init; }
    /// <summary>Checkpoints kept on disk (the newest K).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Skip training-data lines that are not valid samples (reported) instead of failing on the first, as
    /// <c>data prepare --skip-bad-lines</c>. Not part of <see cref="Identity"/> (like the data's path); written only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public bool SkipBadLines { get; init; }
    /// <summary>Initial weights (the previous stage's output, <see cref="Stages.TrainingStage.InitFrom"/>), or null for a fresh init from <see cref="Seed"/>.</summary>
    public string? InitFrom { get; init; }
    /// <summary>A MiniMind resume file (--from-resume) a fresh run starts from: its weights and AdamW state, at
    /// <see cref="ResumeStep"/>. Null: none. Our own checkpoints take over once the run has written one.</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>The optimizer step <see cref="ResumeFrom"/> continues at (MiniMind's step rescaled to our global batch).</summary>
    public long ResumeStep { get; init; }
    /// <summary>MiniMind's save_weight: the output's prefix instead of the stage's (<see cref="Stages.TrainingStage.OutputPrefix"/>), or null.</summary>
    public string? SaveWeight { get; init; }
    /// <summary>LoRA: MiniMind's lora_name; the output is lora/&lt;name&gt;_&lt;hidden&gt;.pth.</summary>
    public string LoraName { get; init; } = "lora_medical";
    /// <summary>LoRA: adapter rank (MiniMind: 8).</summary>
    public int LoraRank { get; init; } = 8;
    /// <summary>DPO: β of the loss (MiniMind: 0.1).</summary>
    public double DpoBeta { get; init; } = 0.1;
    /// <summary>Distill: weight of the CE term; loss = α·CE + (1−α)·KL·T². MiniMind's train_epoch default: 0.0.</summary>
    public double Alpha { get; init; }
    /// <summary>Distill: softmax temperature T. MiniMind's train_epoch default: 1.0.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>The frozen model a stage reads but does not train: DPO's reference (the SFT output), distill's teacher.
    /// Not in the checkpoints: every (re)start reloads it from this file, checked against <see cref="FrozenModelSha256"/>.</summary>
    public string? FrozenModelPath { get; init; }
    /// <summary>SHA-256 of <see cref="FrozenModelPath"/> when the run was set up; part of <see cref="Identity"/>, so a
    /// changed reference/teacher is a different run, and a worker refuses a file that changed under a running one.</summary>
    public string? FrozenModelSha256 { get; init; }
    /// <summary>The frozen model's config JSON when it differs from <see cref="ConfigJson"/> (a bigger teacher), else null.</summary>
    public string? FrozenConfigJson { get; init; }

    /// <summary>GRPO's arguments (the grpo stage only; null elsewhere, and then not written).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public GrpoSettings? Grpo { get; init; }

    /// <summary>In-training held-out evaluation (<c>--eval-data</c>), or null (none, and then not written). Not part of
    /// <see cref="Identity"/>: evaluation reads the model without changing it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public EvalSettings? Eval { get; init; }

    [JsonIgnore] public MiniMindConfig Config => MiniMindConfig.FromJson(ConfigJson);

    /// <summary>MiniMind's output name, relative to the run dir: pretrain_512.pth, full_sft_512_moe.pth, rlhf_512.pth,
    /// reason_512.pth, full_dist_512.pth, lora/lora_medical_512.pth (train_lora.py adds no _moe suffix).</summary>
    [JsonIgnore] public string OutputFileName => Stage == Stages.TrainingStage.Lora.Name
        ? Path.Combine("lora", $"{LoraName}_{Config.HiddenSize}.pth")
        : SaveWeight is { } prefix ? OutputName(prefix, Config.HiddenSize, Config.UseMoe) : OutputName(Stage, Config);

    /// <summary>The stage, plus the adapter name for LoRA (one run dir can train several adapters from one SFT model):
    /// names the checkpoint folder and the journal's persistence id.</summary>
    [JsonIgnore] public string RunName => Stage == Stages.TrainingStage.Lora.Name ? $"lora-{LoraName}" : Stage;

    [JsonIgnore] public string CheckpointDir => Path.Combine(RunDir, "checkpoints", RunName);

    public static string OutputName(string stage, MiniMindConfig config) =>
        OutputName(Stages.TrainingStage.Get(stage).OutputPrefix, config.HiddenSize, config.UseMoe);

    /// <summary>MiniMind's weight file name for a save_weight prefix: &lt;prefix&gt;_&lt;hidden&gt;[_moe].pth.</summary>
    public static string OutputName(string prefix, int hiddenSize, bool moe) => $"{prefix}_{hiddenSize}{(moe ? "_moe" : "")}.pth";

    /// <summary>The fields that must match for a journal to belong to this run (paths and logging may differ).</summary>
    public string Identity() => JsonSerializer.Serialize(this with
    {
        RunDir = "", LogInterval = 0, TensorBoard = true, SaveInterval = 0, KeepCheckpoints = 0, SkipBadLines = false, Threads = 0, Device = "", Dtype = "", DataPath = Path.GetFileName(DataPath),
        TokenizerPath = "", InitFrom = InitFrom is null ? null : Path.GetFileName(InitFrom),
        FrozenModelPath = FrozenModelPath is null ? null : Path.GetFileName(FrozenModelPath),
        ResumeFrom = ResumeFrom is null ? null : Path.GetFileName(ResumeFrom), Eval = null,
    });

    /// <summary>The names of the <see cref="Identity"/> fields in which <paramref name="other"/> differs from this run.</summary>
    public IReadOnlyList<string> IdentityDifferences(TrainingSettings other)
    {
        using var a = JsonDocument.Parse(Identity());
        using var b = JsonDocument.Parse(other.Identity());
        return a.RootElement.EnumerateObject()
            .Where(p => !b.RootElement.TryGetProperty(p.Name, out var q) || p.Value.GetRawText() != q.GetRawText())
            .Select(p => p.Name).ToList();
    }

    public string ToJson() => JsonSerializer.Serialize(this);

    public static TrainingSettings FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingSettings>(json) ?? throw new InvalidDataException("empty training settings");
}
