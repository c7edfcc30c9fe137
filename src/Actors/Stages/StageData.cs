using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;

namespace MiniMind.Actors.Stages;

/// <summary>Opens a stage's training set: the JSONL prepared once into memory-mapped shards under
/// <c>&lt;run dir&gt;/data/</c> (rebuilt when the source, tokenizer, stage or length changes). LoRA and distill read
/// SFT-format data, reason its own weighted format, DPO pairs (<see cref="DpoPairDataset"/>).</summary>
public static class StageData
{
    public static ITokenizedDataset Open(TrainingSettings s)
    {
        if (!File.Exists(s.TokenizerPath)) throw new FileNotFoundException($"tokenizer not found: {s.TokenizerPath}", s.TokenizerPath);
        var cache = Path.Combine(s.RunDir, "data");
        var stage = TrainingStage.Get(s.Stage);
        return stage.Data == DataStage.Dpo
            ? new DpoPairDataset(PreparedData.OpenOrPrepareDpo(s.DataPath, s.TokenizerPath, s.MaxSeqLen, cache))
            : PreparedData.OpenOrPrepare(s.DataPath, s.TokenizerPath, stage.Data, s.MaxSeqLen, cache);
    }
}
