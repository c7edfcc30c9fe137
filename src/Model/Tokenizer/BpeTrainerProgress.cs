namespace MiniMind.Model.Tokenizer;

/// <summary>A progress report of <see cref="BpeTrainer"/>, for a CLI progress bar.</summary>
/// <param name="Phase"><see cref="CountWords"/> (Done/Total = bytes of the input file) or
/// <see cref="Merge"/> (Done/Total = vocab entries so far / target vocab size).</param>
/// <param name="Done">Work done in this phase.</param>
/// <param name="Total">Work in this phase, 0 when unknown.</param>
public sealed record BpeTrainerProgress(string Phase, long Done, long Total)
{
    public const string CountWords = "count words";
    public const string Merge = "merge";

    /// <summary>0–100, or 0 when <see cref="Total"/> is unknown.</summary>
    public double Percent => Total > 0 ? Math.Min(100.0, 100.0 * Done / Total) : 0;
}
