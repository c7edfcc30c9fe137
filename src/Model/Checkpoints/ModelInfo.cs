using System.Globalization;
using System.Text;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// What a checkpoint file holds: keys, shapes, dtypes and the parameter count, for the <c>minimind model info</c>
/// verb. <see cref="Entry"/> is "" when the file is a state dict, "model" when it is a MiniMind resume dict
/// whose model entry was read. Tensors that view one storage count once, and so does an lm_head.weight that is an equal copy of
/// model.embed_tokens.weight (the model ties them), so <see cref="ParameterCount"/> matches MiniMind's own count.
/// </summary>
public sealed record ModelInfo(
    string Path,
    string Format,
    long FileBytes,
    IReadOnlyList<ModelInfoTensor> Tensors,
    long ParameterCount,
    LmHeadLayout LmHead,
    IReadOnlyDictionary<string, string> Metadata,
    string Entry)
{
    /// <summary>Reads the header and index of <paramref name="path"/>; tensor data is read only to compare
    /// the two copies of a tied weight when the file stores both.</summary>
    public static ModelInfo Read(string path)
    {
        using var source = StateDictFile.Open(path);
        var entries = source.Entries;
        var tensors = new List<ModelInfoTensor>();
        var counted = new List<CheckpointEntry>();
        long count = 0;
        foreach (var e in entries)
        {
            var shared = entries.TakeWhile(x => x != e).FirstOrDefault(x => x.StorageKey == e.StorageKey);
            tensors.Add(new ModelInfoTensor(e.Name, TensorDType.Name(e.DType), e.Shape, e.Numel, shared?.Name));
            if (!counted.Any(c => c.SameViewAs(e))) count += e.Numel;
            counted.Add(e);
        }

        var embed = entries.FirstOrDefault(e => e.Name == TiedWeights.Embedding);
        var head = entries.FirstOrDefault(e => e.Name == TiedWeights.LmHead);
        var layout = (embed, head) switch
        {
            (null, _) => LmHeadLayout.NotApplicable,
            (_, null) => LmHeadLayout.Omitted,
            _ when head.SameViewAs(embed) => LmHeadLayout.SharedStorage,
            _ => SameValues(source, embed, head) ? LmHeadLayout.EqualCopy : LmHeadLayout.DifferentCopy,
        };
        if (layout == LmHeadLayout.EqualCopy) count -= head!.Numel;

        return new ModelInfo(path, source.Format, new FileInfo(path).Length, tensors, count, layout, source.Metadata, source.Entry);
    }

    static bool SameValues(CheckpointSource source, CheckpointEntry a, CheckpointEntry b)
    {
        if (a.DType != b.DType || !a.Shape.SequenceEqual(b.Shape)) return false;
        using var ta = source.Load(a);
        using var tb = source.Load(b);
        return TiedWeights.SameValues(ta, tb);
    }

    /// <summary>A plain-text report: a header, then one line per tensor.</summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"File        : {Path}\n");
        sb.Append(inv, $"Format      : {Format}, {FileBytes:N0} bytes\n");
        if (Entry.Length > 0) sb.Append(inv, $"State dict  : the '{Entry}' entry (a resume checkpoint)\n");
        sb.Append(inv, $"Tensors     : {Tensors.Count}\n");
        sb.Append(inv, $"Parameters  : {ParameterCount:N0} ({ParameterCount / 1e6:F2}M, tied weights counted once)\n");
        sb.Append(inv, $"DTypes      : {string.Join(", ", Tensors.GroupBy(t => t.DType).Select(g => $"{g.Key} ×{g.Count()}"))}\n");
        sb.Append(inv, $"lm_head     : {Describe(LmHead)}\n");
        foreach (var (k, v) in Metadata) sb.Append(inv, $"metadata    : {k} = {v}\n");
        var width = Tensors.Count == 0 ? 0 : Tensors.Max(t => t.Name.Length);
        foreach (var t in Tensors)
        {
            sb.Append(t.Name.PadRight(width)).Append("  ").Append(t.DType.PadRight(8)).Append(" [").Append(string.Join(", ", t.Shape)).Append(']');
            if (t.SharesStorageWith is not null) sb.Append("  (shares storage with ").Append(t.SharesStorageWith).Append(')');
            sb.Append('\n');
        }
        return sb.ToString();
    }

    static string Describe(LmHeadLayout layout) => layout switch
    {
        LmHeadLayout.SharedStorage => $"tied: {TiedWeights.LmHead} shares {TiedWeights.Embedding}'s storage",
        LmHeadLayout.Omitted => $"tied: {TiedWeights.LmHead} omitted, re-tied to {TiedWeights.Embedding} on load",
        LmHeadLayout.EqualCopy => $"tied: {TiedWeights.LmHead} is an equal copy of {TiedWeights.Embedding} (MiniMind trainer layout), re-tied on load",
        LmHeadLayout.DifferentCopy => $"NOT tied: {TiedWeights.LmHead} differs from {TiedWeights.Embedding}",
        _ => $"no {TiedWeights.Embedding}",
    };
}
