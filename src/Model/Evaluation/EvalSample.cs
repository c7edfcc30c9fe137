namespace MiniMind.Model.Evaluation;

/// <summary>One held-out sample as the trainers see it: inputs X, targets Y and the loss mask over Y (1 = scored).</summary>
public sealed record EvalSample(int Line, int[] X, int[] Y, int[] LossMask);
