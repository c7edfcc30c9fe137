using System.Globalization;
using System.Text.RegularExpressions;
using MiniMind.Model;
using MiniMind.Model.Checkpoints;

namespace MiniMind.Actors.Stages;

/// <summary>Tells a checkpoint's model config from its tensor shapes (for distill's <c>--teacher</c>). Shapes fix the
/// width, depth, vocabulary, FFN width, MoE layout and q/kv widths, but not how the width splits into heads, so the
/// config is the first candidate (the student's own config, then the presets) whose shapes all fit.</summary>
public static partial class TeacherConfig
{
    /// <summary>What the file's shapes say.</summary>
    public sealed record Shapes(int Hidden, int Layers, int Vocab, int Ffn, int QWidth, int KvWidth, bool Moe, int RoutedExperts, int SharedExperts)
    {
        public bool Fit(MiniMindConfig c) =>
            c.HiddenSize == Hidden && c.NumHiddenLayers == Layers && c.VocabSize == Vocab && c.FfnSize == Ffn &&
            c.NumAttentionHeads * c.HeadDim == QWidth && c.NumKeyValueHeads * c.HeadDim == KvWidth && c.UseMoe == Moe &&
            (!Moe || (c.NRoutedExperts == RoutedExperts && c.NSharedExperts == SharedExperts));

        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"hidden {Hidden}, layers {Layers}, vocab {Vocab}, ffn {Ffn}, q/kv width {QWidth}/{KvWidth}{(Moe ? $", moe {RoutedExperts}+{SharedExperts} experts" : "")}");
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.")]
    private static partial Regex LayerKey();

    [GeneratedRegex(@"^model\.layers\.0\.mlp\.(experts|shared_experts)\.(\d+)\.")]
    private static partial Regex ExpertKey();

    public static Shapes Read(string path)
    {
        var info = ModelInfo.Read(path);
        var byName = info.Tensors.ToDictionary(t => t.Name, t => t.Shape);
        long[] Need(string key) => byName.TryGetValue(key, out var s) ? s
            : throw new InvalidDataException($"{path}: no '{key}': not a MiniMind model state dict");
        var embed = Need("model.embed_tokens.weight");
        var layers = info.Tensors.Select(t => LayerKey().Match(t.Name)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        var experts = info.Tensors.Select(t => ExpertKey().Match(t.Name)).Where(m => m.Success)
            .Select(m => (kind: m.Groups[1].Value, index: int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).Distinct().ToList();
        var moe = experts.Count > 0;
        var ffn = moe ? Need("model.layers.0.mlp.experts.0.gate_proj.weight")[0] : Need("model.layers.0.mlp.gate_proj.weight")[0];
        return new Shapes((int)embed[1], layers, (int)embed[0], (int)ffn,
            (int)Need("model.layers.0.self_attn.q_proj.weight")[0], (int)Need("model.layers.0.self_attn.k_proj.weight")[0],
            moe, experts.Count(e => e.kind == "experts"), experts.Count(e => e.kind == "shared_experts"));
    }

    /// <summary>The first of <paramref name="candidates"/> (name, config) that fits the file, or an error naming the
    /// file, its shapes and the way out (<c>--teacher-preset</c>).</summary>
    public static (string Name, MiniMindConfig Config) Infer(string path, IEnumerable<(string Name, MiniMindConfig Config)> candidates)
    {
        var shapes = Read(path);
        foreach (var c in candidates)
            if (shapes.Fit(c.Config)) return c;
        throw new InvalidDataException($"cannot tell the teacher's config from {path} ({shapes}): no candidate config fits. HINT: pass --teacher-preset <preset or config.json>.");
    }
}
