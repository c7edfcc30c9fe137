using MiniMind.Model.Checkpoints;

namespace MiniMind.Actors.Stages;

/// <summary>
/// MiniMind's <c>--from_resume</c>: continue a MiniMind run from its <c>&lt;weight&gt;_&lt;hidden&gt;[_moe]_resume.pth</c>
/// (model, AdamW state, epoch, step; <see cref="MiniMindResume"/>). <c>1</c> looks where MiniMind keeps the file
/// (its trainers write it to <c>../checkpoints</c> beside the <c>../out</c> weights dir, so beside the run dir, then the
/// run dir itself) and starts fresh when there is none, as MiniMind does; a path names the file. MiniMind's step counts
/// loader iterations per rank; it becomes our optimizer step for the same number of samples (MiniMind rescales for a
/// world-size change, we for a different global batch), and the header says what was rescaled.
/// </summary>
public static class FromResume
{
    /// <summary>The places <c>--from-resume 1</c> looks, in order.</summary>
    public static IReadOnlyList<string> Candidates(string runDir, string weight, MiniMind.Model.MiniMindConfig config)
    {
        var name = $"{weight}_{config.HiddenSize}{(config.UseMoe ? "_moe" : "")}_resume.pth";
        var full = Path.GetFullPath(runDir);
        return [Path.Combine(Path.GetDirectoryName(full) ?? full, "checkpoints", name), Path.Combine(full, "checkpoints", name), Path.Combine(full, name)];
    }

    /// <summary>The settings with <see cref="TrainingSettings.ResumeFrom"/>/<see cref="TrainingSettings.ResumeStep"/> set
    /// (and no --from-weight: the weights come from the resume file), plus the header line; unchanged for null.</summary>
    public static (TrainingSettings Settings, string? Header) Apply(TrainingSettings s, string? value, string weight)
    {
        if (value is null) return (s, null);
        string path;
        if (value == "1")
        {
            var candidates = Candidates(s.RunDir, weight, s.Config);
            var found = candidates.FirstOrDefault(File.Exists);
            if (found is null) return (s, $"  resume   : --from-resume 1: no MiniMind resume file ({string.Join(", ", candidates)}); starting as without it, as MiniMind does");
            path = found;
        }
        else
        {
            path = value;
            if (!File.Exists(path)) throw new FileNotFoundException($"--from-resume {value}: file not found", path);
        }
        using var resume = MiniMindResume.Read(path);
        FromWeight.Check(path, path, s.Config);   // its model fits the config (the loader's errors otherwise)
        var stepsPerEpoch = Math.Max(1, SampleCount(s.DataPath) / ((long)s.BatchSize * s.AccumulationSteps));
        var (step, note) = resume.OptimizerStep(s.BatchSize, s.AccumulationSteps, stepsPerEpoch);
        var header = $"  resume   : {path} (MiniMind epoch {resume.Epoch + 1}, step {resume.Step}, world size {resume.WorldSize}: weights and AdamW state) → step {step}" +
                     (note is null ? "" : $"\n  rescaled : {note}");
        return (s with { ResumeFrom = path, ResumeStep = step, InitFrom = null }, header);
    }

    /// <summary>MiniMind's len(dataset): the JSONL's non-blank lines.</summary>
    static long SampleCount(string dataPath) =>
        File.Exists(dataPath) ? File.ReadLines(dataPath).LongCount(l => !string.IsNullOrWhiteSpace(l)) : 0;
}
