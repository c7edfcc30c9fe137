using System.Text;

namespace MiniMind.Model.Checkpoints;

/// <summary>
/// A state dict that does not fit a module: thrown by <see cref="StateDictLoader"/> before anything is copied,
/// listing every missing key, every unexpected key, every shape mismatch and every pair of tied copies that
/// differ, with the checkpoint's name.
/// </summary>
public sealed class StateDictMismatchException : Exception
{
    public string SourceName { get; }
    public IReadOnlyList<string> MissingKeys { get; }
    public IReadOnlyList<string> UnexpectedKeys { get; }
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }
    public IReadOnlyList<string> DifferingTiedCopies { get; }

    public StateDictMismatchException(string sourceName, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes, IReadOnlyList<string> differingTiedCopies)
        : base(Format(sourceName, missing, unexpected, shapes, differingTiedCopies))
    {
        SourceName = sourceName;
        MissingKeys = missing;
        UnexpectedKeys = unexpected;
        ShapeMismatches = shapes;
        DifferingTiedCopies = differingTiedCopies;
    }

    static string Format(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes, IReadOnlyList<string> tied)
    {
        var sb = new StringBuilder($"{source}: the checkpoint does not fit the model");
        Section(sb, "missing from the checkpoint", missing);
        Section(sb, "unexpected in the checkpoint (not in the model)", unexpected);
        Section(sb, "shape mismatch", shapes.Select(s => s.ToString()).ToList());
        Section(sb, "tied weight stored as two different copies", tied);
        sb.Append('\n');
        if (shapes.Count > 0 || missing.Count > 0)
            sb.Append("HINT: the checkpoint was trained with another config (hidden size, layers, heads, vocab size or use_moe); pass the config it was trained with.");
        else if (tied.Count > 0)
            sb.Append("HINT: set StateDictLoadOptions.AllowDifferingTiedCopies to take the copy PyTorch's load_state_dict would keep (the later key, lm_head.weight).");
        else
            sb.Append("HINT: is this a checkpoint of another model kind (e.g. a LoRA-only file, or a MoE checkpoint for a dense model)?");
        return sb.ToString();
    }

    static void Section(StringBuilder sb, string title, IReadOnlyList<string> lines)
    {
        if (lines.Count == 0) return;
        sb.Append($"\n  {title} ({lines.Count}):");
        foreach (var line in lines) sb.Append("\n    ").Append(line);
    }
}
