namespace MiniMind.Model.Checkpoints;

/// <summary>What <see cref="StateDictLoader.LoadInto"/> did. <see cref="MissingKeys"/> and
/// <see cref="UnexpectedKeys"/> can only be non-empty with <c>Strict = false</c>.</summary>
public sealed record StateDictLoadResult(
    IReadOnlyList<string> LoadedKeys,
    IReadOnlyList<string> MissingKeys,
    IReadOnlyList<string> UnexpectedKeys,
    IReadOnlyList<string> Notes);
