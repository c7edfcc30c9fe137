namespace MiniMind.Model.Checkpoints;

/// <summary>One key whose tensor has a different shape in the checkpoint than in the model.</summary>
public sealed record ShapeMismatch(string Key, long[] CheckpointShape, long[] ModelShape)
{
    public override string ToString() => $"{Key}: checkpoint [{string.Join(", ", CheckpointShape)}] vs model [{string.Join(", ", ModelShape)}]";
}
