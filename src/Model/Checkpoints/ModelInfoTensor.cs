namespace MiniMind.Model.Checkpoints;

/// <summary>One tensor of a checkpoint, as <see cref="ModelInfo"/> lists it.</summary>
/// <param name="SharesStorageWith">The earlier key whose storage this tensor views (a tie in a .pth), or null.</param>
public sealed record ModelInfoTensor(string Name, string DType, long[] Shape, long Numel, string? SharesStorageWith);
