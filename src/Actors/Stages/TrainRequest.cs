using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniMind.Actors.Stages;

/// <summary>
/// A request to train one stage: what <c>minimind train &lt;stage&gt; &lt;flags&gt;</c>, <c>minimind ctl train start
/// &lt;stage&gt; &lt;flags&gt;</c> and <c>POST /api/train/start</c> (a JSON body, camelCase: <c>{"stage":"pretrain",
/// "maxSteps":60,"runDir":"runs/a"}</c>) all map onto. Each field is the flag of the same name (<c>batchSize</c> =
/// <c>--batch-size</c>); null = the default (config/train files, then MiniMind's). <see cref="TrainRequestResolver"/>
/// turns it into <see cref="TrainingSettings"/>.
/// </summary>
public sealed record TrainRequest
{
    public string Stage { get; init; } = "";
    /// <summary>Model config: a MiniMind config.json or a preset name. Default: tiny.</summary>
    public string? Config { get; init; }
    public string? Data { get; init; }
    public string? Tokenizer { get; init; }
    /// <summary>Default: runs/default.</summary>
    public string? RunDir { get; init; }
    public string? TrainConfig { get; init; }
    public long? MaxSteps { get; init; }
    public int? Epochs { get; init; }
    public int? BatchSize { get; init; }
    public int? MaxSeqLen { get; init; }
    public int? AccumulationSteps { get; init; }
    public double? LearningRate { get; init; }
    public int? SaveInterval { get; init; }
    public int? LogInterval { get; init; }
    /// <summary>TensorBoard event files in &lt;run dir&gt;/tensorboard. Default: true.</summary>
    public bool? TensorBoard { get; init; }
    /// <summary>Default: 42.</summary>
    public ulong? Seed { get; init; }
    public bool? Deterministic { get; init; }
    /// <summary>Default: cpu.</summary>
    public string? Device { get; init; }
    public int? Threads { get; init; }
    /// <summary>auto (default), bf16 or fp32 (MiniMind's --dtype).</summary>
    public string? Dtype { get; init; }
    /// <summary>Default: 3.</summary>
    public int? KeepCheckpoints { get; init; }
    /// <summary>Gradient clipping max norm (MiniMind's --grad_clip). Default: config/train, then 1.0.</summary>
    public double? GradClip { get; init; }
    /// <summary>MiniMind's --save_weight: the output's prefix, &lt;prefix&gt;_&lt;hidden&gt;[_moe].pth. Default: the stage's.</summary>
    public string? SaveWeight { get; init; }
    /// <summary>MiniMind's --hidden_size: overrides the config's (on MiniMind's defaults when no config is given).</summary>
    public int? HiddenSize { get; init; }
    /// <summary>MiniMind's --num_hidden_layers: overrides the config's.</summary>
    public int? NumHiddenLayers { get; init; }
    /// <summary>MiniMind's --use_moe (0 or 1): overrides the config's.</summary>
    public bool? UseMoe { get; init; }
    /// <summary>MiniMind's --from_weight: a weight name (pretrain, full_sft, … → &lt;run dir&gt;/&lt;name&gt;_&lt;hidden&gt;[_moe].pth),
    /// a .pth/.safetensors file, or none (random init). Default: the previous stage's output.</summary>
    public string? FromWeight { get; init; }
    /// <summary>MiniMind's --from_resume: a MiniMind *_resume.pth to continue from (model, AdamW state, step, epoch), or
    /// "1" for &lt;save_weight&gt;_&lt;hidden&gt;[_moe]_resume.pth where MiniMind keeps it. Default: none.</summary>
    public string? FromResume { get; init; }
    /// <summary>Skip (and report) training-data lines that are not valid samples instead of failing. Default: false.</summary>
    public bool? SkipBadLines { get; init; }
    /// <summary>Held-out JSONL in the stage's training format, scored every <see cref="EvalInterval"/> steps
    /// (<see cref="EvalSettings"/>; not dpo or grpo). Default: none.</summary>
    public string? EvalData { get; init; }
    /// <summary>Evaluate after every N steps (and after the last). Default: the save interval.</summary>
    public int? EvalInterval { get; init; }
    /// <summary>Batches of the held-out file scored (its first K × batch size samples). Default: 8.</summary>
    public int? EvalBatches { get; init; }
    /// <summary>lora only. Default: lora_medical.</summary>
    public string? LoraName { get; init; }
    /// <summary>dpo and grpo: β of the DPO loss / weight of GRPO's KL term. Default: 0.1.</summary>
    public double? Beta { get; init; }
    /// <summary>grpo only: completions per prompt. Default: 6.</summary>
    public int? NumGenerations { get; init; }
    /// <summary>grpo only: cispo or grpo. Default: cispo.</summary>
    public string? LossType { get; init; }
    /// <summary>grpo only: GRPO's clip ε. Default: 0.2.</summary>
    public double? Epsilon { get; init; }
    /// <summary>grpo only: CISPO's ratio cap. Default: 5.0.</summary>
    public double? EpsilonHigh { get; init; }
    /// <summary>grpo only: most tokens per completion. Default: 1024.</summary>
    public int? MaxGenLen { get; init; }
    /// <summary>grpo only: share of prompts with thinking on. Default: 0.9.</summary>
    public double? ThinkingRatio { get; init; }
    /// <summary>grpo only: an external reward model (README: reward protocol). Default: none (rule rewards).</summary>
    public string? RewardUrl { get; init; }
    /// <summary>distill only.</summary>
    public string? Teacher { get; init; }
    /// <summary>distill only.</summary>
    public string? TeacherPreset { get; init; }
    /// <summary>distill only.</summary>
    public double? Alpha { get; init; }
    /// <summary>distill only.</summary>
    public double? Temperature { get; init; }

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        PropertyNameCaseInsensitive = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a JSON body; an unknown or mistyped field is an <see cref="ArgumentException"/> naming it.</summary>
    public static TrainRequest FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainRequest>(json, Json) ?? throw new ArgumentException("the train request is empty (expected {\"stage\":…})");
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p ? p.TrimStart('$', '.') : null;
            throw new ArgumentException(field is null ? $"train request: {e.Message}" : $"train request field '{field}': {FirstSentence(e.Message)}", e);
        }
    }

    static string FirstSentence(string message) => message.Split(". Path:")[0];
}
