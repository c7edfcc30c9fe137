// Mirrors MiniMindConfig of jingyaogong/minimind @ 561979c (model/model_minimind.py, the MiniMind2 code).
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniMind.Model;

/// <summary>Hyperparameters of a MiniMind model. JSON names and defaults are MiniMind's own,
/// so a MiniMind <c>config.json</c> (or one of <c>config/presets/*.json</c>) loads as is.</summary>
public sealed record MiniMindConfig
{
    /// <summary>"minimind". Accepted so that MiniMind's own config.json files load.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "minimind";
    /// <summary>0.0: dropout on embeddings, attention weights and residual outputs (train mode only).</summary>
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    /// <summary>1: id of &lt;|im_start|&gt; in MiniMind's tokenizer.</summary>
    [JsonPropertyName("bos_token_id")] public int BosTokenId { get; init; } = 1;
    /// <summary>2: id of &lt;|im_end|&gt;; generation stops on it.</summary>
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; } = 2;
    /// <summary>"silu": the FeedForward activation (the only one supported).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    /// <summary>512: model width h.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 512;
    /// <summary>null: SwiGLU width; null means 64·ceil(int(8h/3)/64), see <see cref="FfnSize"/>.</summary>
    [JsonPropertyName("intermediate_size")] public int? IntermediateSize { get; init; }
    /// <summary>32768: length of the RoPE tables, i.e. the longest sequence the model can see.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 32768;
    /// <summary>8: query heads.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 8;
    /// <summary>8: transformer blocks.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 8;
    /// <summary>2: key/value heads (GQA); each is shared by num_attention_heads / num_key_value_heads query heads.</summary>
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; } = 2;
    /// <summary>6400: MiniMind's tokenizer size.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 6400;
    /// <summary>1e-5: RMSNorm epsilon.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    /// <summary>1e6: RoPE base θ.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 1e6;
    /// <summary>true: use scaled_dot_product_attention when MiniMind would (no padding mask, no cache, T &gt; 1).</summary>
    [JsonPropertyName("flash_attn")] public bool FlashAttn { get; init; } = true;
    /// <summary>false: replace every FeedForward by a mixture of experts.</summary>
    [JsonPropertyName("use_moe")] public bool UseMoe { get; init; }
    /// <summary>2: experts per token (top-k).</summary>
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; init; } = 2;
    /// <summary>4: routed experts.</summary>
    [JsonPropertyName("n_routed_experts")] public int NRoutedExperts { get; init; } = 4;
    /// <summary>1: always-on shared experts, added unweighted.</summary>
    [JsonPropertyName("n_shared_experts")] public int NSharedExperts { get; init; } = 1;
    /// <summary>"softmax": gate scoring (the only one MiniMind supports).</summary>
    [JsonPropertyName("scoring_func")] public string ScoringFunc { get; init; } = "softmax";
    /// <summary>0.1: weight α of the load-balancing aux loss.</summary>
    [JsonPropertyName("aux_loss_alpha")] public double AuxLossAlpha { get; init; } = 0.1;
    /// <summary>true: aux loss per sequence (else per batch).</summary>
    [JsonPropertyName("seq_aux")] public bool SeqAux { get; init; } = true;
    /// <summary>true: renormalise the top-k weights to sum to 1 (only when k &gt; 1).</summary>
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; init; } = true;

    // Keys that transformers' save_pretrained adds to a MiniMind config.json (MiniMind's released models carry them).
    // They describe the Python packaging, not the network, so they are accepted and not written back.
    [JsonPropertyName("architectures"), JsonIgnore(Condition = JsonIgnoreCondition.Always)] public JsonElement? HfArchitectures { get; init; }
    [JsonPropertyName("auto_map"), JsonIgnore(Condition = JsonIgnoreCondition.Always)] public JsonElement? HfAutoMap { get; init; }
    [JsonPropertyName("torch_dtype"), JsonIgnore(Condition = JsonIgnoreCondition.Always)] public JsonElement? HfTorchDtype { get; init; }
    [JsonPropertyName("transformers_version"), JsonIgnore(Condition = JsonIgnoreCondition.Always)] public JsonElement? HfTransformersVersion { get; init; }
    [JsonPropertyName("use_cache"), JsonIgnore(Condition = JsonIgnoreCondition.Always)] public JsonElement? HfUseCache { get; init; }

    /// <summary>h / num_attention_heads.</summary>
    [JsonIgnore] public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>The SwiGLU width: intermediate_size, or MiniMind's 64·ceil(int(8h/3)/64) when it is null.</summary>
    [JsonIgnore] public int FfnSize => IntermediateSize ?? 64 * ((HiddenSize * 8 / 3 + 63) / 64);

    /// <summary>Throws when the numbers cannot make a MiniMind model.</summary>
    public MiniMindConfig Validate(string source = "config")
    {
        void Check(bool ok, string field, string why)
        {
            if (!ok) throw new InvalidDataException($"{source}: field '{field}': {why}");
        }
        Check(HiddenSize > 0, "hidden_size", "must be > 0");
        Check(NumHiddenLayers > 0, "num_hidden_layers", "must be > 0");
        Check(NumAttentionHeads > 0 && HiddenSize % NumAttentionHeads == 0, "num_attention_heads", $"must divide hidden_size {HiddenSize}");
        Check(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0, "num_key_value_heads", $"must divide num_attention_heads {NumAttentionHeads}");
        Check(HeadDim % 2 == 0, "num_attention_heads", "head_dim must be even for RoPE");
        Check(VocabSize > 0, "vocab_size", "must be > 0");
        Check(IntermediateSize is null or > 0, "intermediate_size", "must be > 0 or null");
        Check(MaxPositionEmbeddings > 0, "max_position_embeddings", "must be > 0");
        Check(HiddenAct == "silu", "hidden_act", $"only 'silu' is supported, got '{HiddenAct}'");
        Check(ScoringFunc == "softmax", "scoring_func", $"only 'softmax' is supported, got '{ScoringFunc}'");
        Check(Dropout is >= 0 and < 1, "dropout", "must be in [0, 1)");
        if (UseMoe)
        {
            Check(NRoutedExperts > 0, "n_routed_experts", "must be > 0");
            Check(NumExpertsPerTok > 0 && NumExpertsPerTok <= NRoutedExperts, "num_experts_per_tok", $"must be in 1..n_routed_experts ({NRoutedExperts})");
            Check(NSharedExperts >= 0, "n_shared_experts", "must be >= 0");
        }
        return this;
    }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        WriteIndented = true,
    };

    /// <summary>Parses MiniMind JSON. Unknown fields and wrong types are errors that name <paramref name="source"/> and the field.</summary>
    public static MiniMindConfig FromJson(string json, string source = "config")
    {
        MiniMindConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<MiniMindConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? null : e.Path.TrimStart('$', '.');
            var what = e.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? $"unknown field '{UnknownField(e.Message) ?? field}'"
                : field is null ? e.Message : $"field '{field}' has the wrong type or value ({e.Message})";
            throw new InvalidDataException($"{source}: {what}", e);
        }
        return (config ?? throw new InvalidDataException($"{source}: empty JSON")).Validate(source);
    }

    static string? UnknownField(string message)
    {
        // System.Text.Json: "The JSON property 'xyz' could not be mapped to any .NET member ..."
        var start = message.IndexOf('\'', StringComparison.Ordinal);
        var end = start < 0 ? -1 : message.IndexOf('\'', start + 1);
        return end > start ? message[(start + 1)..end] : null;
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>A JSON file path, or a preset name such as <c>tiny</c>, <c>minimind2-small</c>, <c>minimind2</c>,
    /// <c>minimind2-moe</c>, found as <c>config/presets/&lt;name&gt;.json</c> above the executable or the current directory.</summary>
    public static MiniMindConfig Load(string pathOrPreset)
    {
        if (File.Exists(pathOrPreset)) return FromJson(File.ReadAllText(pathOrPreset), pathOrPreset);
        var preset = FindPreset(pathOrPreset);
        if (preset is not null) return FromJson(File.ReadAllText(preset), preset);
        throw new FileNotFoundException(
            $"model config '{pathOrPreset}' is neither a file nor a preset. Presets: {string.Join(", ", PresetNames())}.", pathOrPreset);
    }

    /// <summary>The preset names found in the first config/presets folder on the search path.</summary>
    public static IReadOnlyList<string> PresetNames() =>
        PresetDirectories().Take(1)
            .SelectMany(d => Directory.GetFiles(d, "*.json"))
            .Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal).ToList();

    static string? FindPreset(string name)
    {
        if (name.IndexOfAny(['/', '\\']) >= 0) return null;
        var file = name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? name : name + ".json";
        return PresetDirectories().Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists);
    }

    static IEnumerable<string> PresetDirectories()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "config", "presets");
                if (Directory.Exists(candidate)) yield return candidate;
            }
    }
}
