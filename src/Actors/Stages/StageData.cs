using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;

namespace MiniMind.Actors.Stages;

/// <summary>Opens a stage's training set: the JSONL prepared once into memory-mapped shards under
/// <c>&lt;run dir&gt;/data/</c> (rebuilt when the source, tokenizer, stage or length changes). LoRA and distill read
/// SFT-format data, reason its own weighted format, DPO pairs (<see cref="DpoPairDataset"/>). Bad lines fail with a
/// <see cref="DataFormatException"/> naming file and line, unless <see cref="TrainingSettings.SkipBadLines"/>.</summary>
public static class StageData
{
    /// <summary>How many skipped lines <see cref="Prepare"/> spells out with their reasons (as <c>data prepare</c>).</summary>
    public const int ReasonsShown = 5;

    public static ITokenizedDataset Open(TrainingSettings s)
    {
        if (!File.Exists(s.TokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {s.TokenizerPath}", s.TokenizerPath);
        var cache = Path.Combine(s.RunDir, "data");
        var stage = TrainingStage.Get(s.Stage);
        if (stage.Data == DataStage.Rlaif) return OpenRlaif(s);
        return stage.Data == DataStage.Dpo
            ? new DpoPairDataset(PreparedData.OpenOrPrepareDpo(s.DataPath, s.TokenizerPath, s.MaxSeqLen, cache, skipBadLines: s.SkipBadLines))
            : PreparedData.OpenOrPrepare(s.DataPath, s.TokenizerPath, stage.Data, s.MaxSeqLen, cache, skipBadLines: s.SkipBadLines);
    }

    /// <summary>GRPO's prompts, read into memory (<see cref="RlaifDataset"/>): max_seq_len caps a prompt; the thinking
    /// draw is seeded with the run's seed.</summary>
    static RlaifDataset OpenRlaif(TrainingSettings s) =>
        RlaifDataset.Load(s.DataPath, Model.Tokenizer.BpeTokenizer.FromFile(s.TokenizerPath), s.MaxSeqLen,
            (s.Grpo ?? new GrpoSettings()).ThinkingRatio, s.Seed, s.SkipBadLines);

    /// <summary>Prepares (or checks the prepared copy of) the training data before a run starts, so a malformed line is
    /// reported once, naming file and line, instead of failing the run's coordinator. <paramref name="warn"/> hears the
    /// lines skipped with <see cref="TrainingSettings.SkipBadLines"/>, in <c>data prepare</c>'s words.</summary>
    public static void Prepare(TrainingSettings s, Action<string> warn)
    {
        if (!File.Exists(s.TokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {s.TokenizerPath}", s.TokenizerPath);
        if (TrainingStage.Get(s.Stage).Data == DataStage.Rlaif)
        {
            var rlaif = OpenRlaif(s);
            if (rlaif.LinesSkipped == 0) return;
            var listed = rlaif.LinesSkipped > ReasonsShown ? $"first {ReasonsShown}: " : "";
            warn($"warning: skipped {rlaif.LinesSkipped} bad lines ({listed}{string.Join(", ", rlaif.SkippedReasons.Take(ReasonsShown).Select(r => r.Split(": ")[0]))})");
            foreach (var reason in rlaif.SkippedReasons.Take(ReasonsShown)) warn($"  {reason}");
            return;
        }
        var cache = Path.Combine(s.RunDir, "data");
        var (dir, built) = PreparedData.Ensure(s.DataPath, s.TokenizerPath, TrainingStage.Get(s.Stage).Data, s.MaxSeqLen, cache,
            skipBadLines: s.SkipBadLines, report: r =>
            {
                if (r.LinesSkipped == 0) return;
                var listed = r.SkippedLines.Count < r.LinesSkipped ? $"first {r.SkippedLines.Count}: " : "";
                warn($"warning: skipped {r.LinesSkipped} bad lines ({listed}{string.Join(", ", r.SkippedLines)})");
                foreach (var reason in r.SkippedReasons.Take(ReasonsShown)) warn($"  {reason}");
            });
        if (!built && ShardManifest.Read(dir).LinesSkipped is > 0 and var skipped)
            warn($"warning: using {s.DataPath} prepared earlier with {skipped} bad lines skipped");
    }
}
