using System.Text.Json;
using System.Text.Json.Serialization;
using MiniMind.Model;

namespace MiniMind.Actors;

/// <summary>Everything that fixes a run's arithmetic: model config, data, hyperparameters (MiniMind's trainer args).
/// Serialized into <see cref="Protocol.RunStarted"/>, so a resumed run can check it is the same run.</summary>
public sealed record TrainingSettings
{
    /// <summary>"pretrain" or "sft".</summary>
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
    public ulong Seed { get; init; } = 42;
    public bool Deterministic { get; init; }
    public string Device { get; init; } = "cpu";
    public int Threads { get; init; }
    /// <summary>Checkpoints kept on disk (the newest K).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Route every step through the <see cref="GradientAggregator"/> (gradients shipped as chunks, reduced in
    /// micro-batch order), the path workers on other nodes will take. Off: the worker accumulates locally (faster).</summary>
    public bool AggregateGradients { get; init; }
    /// <summary>Initial weights (SFT: the pretrain output), or null for a fresh init from <see cref="Seed"/>.</summary>
    public string? InitFrom { get; init; }

    [JsonIgnore] public MiniMindConfig Config => MiniMindConfig.FromJson(ConfigJson);

    /// <summary>MiniMind's output name: pretrain_512.pth, full_sft_512_moe.pth, …</summary>
    [JsonIgnore] public string OutputFileName => OutputName(Stage, Config);

    [JsonIgnore] public string CheckpointDir => Path.Combine(RunDir, "checkpoints", Stage);

    public static string OutputName(string stage, MiniMindConfig config) =>
        $"{(stage == "sft" ? "full_sft" : stage)}_{config.HiddenSize}{(config.UseMoe ? "_moe" : "")}.pth";

    /// <summary>The fields that must match for a journal to belong to this run (paths and logging may differ).</summary>
    public string Identity() => JsonSerializer.Serialize(this with
    {
        RunDir = "", LogInterval = 0, SaveInterval = 0, KeepCheckpoints = 0, Threads = 0, Device = "", DataPath = Path.GetFileName(DataPath),
        TokenizerPath = "", AggregateGradients = false, InitFrom = InitFrom is null ? null : Path.GetFileName(InitFrom),
    });

    public string ToJson() => JsonSerializer.Serialize(this);

    public static TrainingSettings FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingSettings>(json) ?? throw new InvalidDataException("empty training settings");
}
