using MiniMind.Actors.Stages;

namespace MiniMind.Actors;

/// <summary>Checks a completed run's output file against the sha256 its journal vouches for.</summary>
public static class RunOutput
{
    /// <summary>Null when <paramref name="path"/> holds the bytes the journal vouches for, else what is wrong with it.</summary>
    public static string? Problem(string path, string? sha256)
    {
        if (!File.Exists(path)) return "is missing";
        var actual = StageObjective.Sha256(path);
        return sha256 is null || actual == sha256 ? null : $"is damaged (sha256 {actual[..12]}…, the journal has {sha256[..Math.Min(12, sha256.Length)]}…)";
    }
}
