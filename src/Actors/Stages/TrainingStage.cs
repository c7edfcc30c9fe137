using MiniMind.Model.Data.Shards;

namespace MiniMind.Actors.Stages;

/// <summary>One of MiniMind's training scripts: its data, its defaults (the script's argparse values at the pinned
/// commit), which stage's output it starts from and what it writes. <see cref="All"/> lists them in pipeline order.</summary>
/// <param name="Name">CLI verb and journal stage: pretrain, sft, lora, dpo, reason, distill.</param>
/// <param name="Script">MiniMind's trainer script.</param>
/// <param name="Data">How the JSONL is prepared.</param>
/// <param name="DefaultData">The sample data in dataset/.</param>
/// <param name="OutputPrefix">MiniMind's save_weight prefix: <c>&lt;prefix&gt;_&lt;hidden&gt;[_moe].pth</c>.</param>
/// <param name="InitFrom">The stage whose output this one starts from (null: a fresh seeded init).</param>
public sealed record TrainingStage(string Name, string Script, DataStage Data, string DefaultData, string OutputPrefix, string? InitFrom,
    int Epochs, int BatchSize, int AccumulationSteps, double LearningRate, int MaxSeqLen)
{
    public static TrainingStage Pretrain { get; } = new("pretrain", "train_pretrain.py", DataStage.Pretrain, "dataset/pretrain.jsonl", "pretrain", null, 1, 32, 8, 5e-4, 512);
    public static TrainingStage Sft { get; } = new("sft", "train_full_sft.py", DataStage.Sft, "dataset/sft.jsonl", "full_sft", "pretrain", 2, 16, 1, 5e-7, 512);
    /// <summary>train_lora.py: only the rank-8 adapters train; writes lora/&lt;lora_name&gt;_&lt;hidden&gt;.pth (see <see cref="TrainingSettings.OutputFileName"/>).</summary>
    public static TrainingStage Lora { get; } = new("lora", "train_lora.py", DataStage.Sft, "dataset/lora_medical.jsonl", "lora", "sft", 10, 32, 1, 1e-4, 512);
    public static TrainingStage Dpo { get; } = new("dpo", "train_dpo.py", DataStage.Dpo, "dataset/dpo.jsonl", "rlhf", "sft", 2, 4, 1, 1e-8, 1024);
    /// <summary>train_distill_reason.py: from_weight is the DPO output (rlhf).</summary>
    public static TrainingStage Reason { get; } = new("reason", "train_distill_reason.py", DataStage.Reason, "dataset/reason.jsonl", "reason", "dpo", 1, 8, 1, 1e-6, 1024);
    public static TrainingStage Distill { get; } = new("distill", "train_distillation.py", DataStage.Sft, "dataset/sft.jsonl", "full_dist", "sft", 6, 32, 1, 5e-6, 512);

    /// <summary>train_grpo.py: prompts (RLAIF data) → rollouts → rewards → GRPO/CISPO loss against a frozen copy of
    /// the SFT output; batch_size counts prompts (each with num_generations completions), max_seq_len caps the prompt.</summary>
    public static TrainingStage Grpo { get; } = new("grpo", "train_grpo.py", DataStage.Rlaif, "dataset/rlaif.jsonl", "grpo", "sft", 1, 2, 1, 3e-7, 768);

    public static IReadOnlyList<TrainingStage> All { get; } = [Pretrain, Sft, Lora, Dpo, Reason, Distill, Grpo];

    public static TrainingStage Get(string name) =>
        All.FirstOrDefault(s => s.Name == name) ?? throw new ArgumentException($"unknown training stage '{name}' (expected {string.Join(", ", All.Select(s => s.Name))})");
}
