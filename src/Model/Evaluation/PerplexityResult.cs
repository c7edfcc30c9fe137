namespace MiniMind.Model.Evaluation;

/// <summary>Mean negative log-likelihood per scored token over a file, and its exponential.</summary>
public sealed record PerplexityResult(double TotalNll, long Tokens, int Samples)
{
    /// <summary>Σ CE·mask / Σ mask over every sample: the training loss's masked mean, taken over the whole file.</summary>
    public double MeanNll => Tokens == 0 ? double.NaN : TotalNll / Tokens;

    public double Perplexity => Math.Exp(MeanNll);
}
