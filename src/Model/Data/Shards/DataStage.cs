namespace MiniMind.Model.Data.Shards;

/// <summary>Which MiniMind dataset a JSONL file feeds, and so what a prepared sample holds.</summary>
public enum DataStage
{
    /// <summary><c>{"text": …}</c> → ids; the mask is ids != pad (PretrainDataset).</summary>
    Pretrain,
    /// <summary><c>{"conversations": [{"content": …}, …]}</c> → ids + the assistant loss mask (SFTDataset).</summary>
    Sft,
    /// <summary><c>{"chosen": [...], "rejected": [...]}</c> → two sides, each ids + mask (DPODataset).</summary>
    Dpo,
    /// <summary>SFT records weighted as train_distill_reason.py does (<see cref="ReasonLossMask"/>).</summary>
    Reason,
    /// <summary><c>{"conversations": [..., {"role": "assistant", "content": ""}]}</c> → the prompt ids (RLAIFDataset);
    /// read into memory by <see cref="RlaifDataset"/>, never sharded.</summary>
    Rlaif,
}

public static class DataStages
{
    /// <summary>The lower-case name used on the command line and in manifests.</summary>
    public static string Name(this DataStage stage) => stage switch
    {
        DataStage.Pretrain => "pretrain",
        DataStage.Sft => "sft",
        DataStage.Dpo => "dpo",
        DataStage.Reason => "reason",
        DataStage.Rlaif => "rlaif",
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, null),
    };

    public static DataStage Parse(string name) => name.ToLowerInvariant() switch
    {
        "pretrain" => DataStage.Pretrain,
        "sft" => DataStage.Sft,
        "dpo" => DataStage.Dpo,
        "reason" => DataStage.Reason,
        _ => throw new ArgumentException($"unknown stage '{name}' (expected pretrain, sft, dpo or reason)"),
    };
}
