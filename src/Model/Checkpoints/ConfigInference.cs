using System.Text.RegularExpressions;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A <see cref="MiniMindConfig"/> read off a checkpoint's key names and shapes (no tensor data is loaded), for
/// <c>minimind chat/eval/serve/export</c> when no config is given. Shapes fix hidden_size, num_hidden_layers,
/// vocab_size, intermediate_size, use_moe and the expert counts. They cannot fix the head count (q_proj is (h, h)
/// for any number of heads), so heads, max_position_embeddings, rope_theta, flash_attn and num_experts_per_tok come
/// from the first preset with the same hidden_size and key/value width, else from MiniMind's defaults (8 heads,
/// num_key_value_heads = k_proj rows / head_dim), as MiniMind's eval_model.py builds <c>MiniMindConfig(hidden_size=…,
/// num_hidden_layers=…, use_moe=…)</c>.
/// </summary>
public static partial class ConfigInference
{
    /// <summary>The config, and where the shape-less fields came from ("preset tiny" or "MiniMind defaults").</summary>
    public static (MiniMindConfig Config, string HeadsFrom) FromCheckpoint(string path)
    {
        var info = ModelInfo.Read(path);
        var shapes = info.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        long[] Shape(string key) => shapes.TryGetValue(key, out var s) ? s
            : throw new CheckpointFormatException(path, $"no '{key}': cannot infer the model config (pass --config)");

        var embed = Shape(TiedWeights.Embedding);
        var (vocab, hidden) = ((int)embed[0], (int)embed[1]);
        var layers = shapes.Keys.Select(k => LayerIndex().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        if (layers == 0) throw new CheckpointFormatException(path, "no 'model.layers.N.' keys: cannot infer the model config (pass --config)");
        var kvWidth = (int)Shape("model.layers.0.self_attn.k_proj.weight")[0];
        var moe = shapes.ContainsKey("model.layers.0.mlp.gate.weight");
        var ffn = (int)Shape(moe ? "model.layers.0.mlp.experts.0.gate_proj.weight" : "model.layers.0.mlp.gate_proj.weight")[0];
        var routed = moe ? (int)Shape("model.layers.0.mlp.gate.weight")[0] : 0;
        var shared = moe ? shapes.Keys.Count(k => k.StartsWith("model.layers.0.mlp.shared_experts.", StringComparison.Ordinal) && k.EndsWith(".gate_proj.weight", StringComparison.Ordinal)) : 0;

        var (baseConfig, from) = MatchingPreset(hidden, kvWidth);
        var config = baseConfig with
        {
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            VocabSize = vocab,
            UseMoe = moe,
            NRoutedExperts = moe ? routed : baseConfig.NRoutedExperts,
            NSharedExperts = moe ? shared : baseConfig.NSharedExperts,
            NumExpertsPerTok = moe ? Math.Min(baseConfig.NumExpertsPerTok, routed) : baseConfig.NumExpertsPerTok,
        };
        config = config with { IntermediateSize = ffn == (config with { IntermediateSize = null }).FfnSize ? null : ffn };
        if (from == Defaults)
        {
            var headDim = hidden / config.NumAttentionHeads;
            if (headDim == 0 || kvWidth % headDim != 0)
                throw new CheckpointFormatException(path, $"k_proj has {kvWidth} rows, not a multiple of head_dim {headDim} (hidden {hidden} / 8 heads): pass --config");
            config = config with { NumKeyValueHeads = kvWidth / headDim };
        }
        return (config.Validate(path), from);
    }

    const string Defaults = "MiniMind defaults";

    static (MiniMindConfig, string) MatchingPreset(int hidden, int kvWidth)
    {
        foreach (var name in MiniMindConfig.PresetNames())
        {
            MiniMindConfig preset;
            try { preset = MiniMindConfig.Load(name); }
            catch (InvalidDataException) { continue; }
            if (preset.HiddenSize == hidden && preset.NumKeyValueHeads * preset.HeadDim == kvWidth)
                return (preset, "preset " + name);
        }
        return (new MiniMindConfig(), Defaults);
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.")]
    private static partial Regex LayerIndex();
}
