using System.CommandLine;
using MiniMind.Actors.Stages;

namespace MiniMind.Cli;

/// <summary>The options of every <c>train &lt;stage&gt;</c> verb that came with MiniMind's trainer flags (issue 15): the
/// model flags that build the config, gradient clipping, the output prefix and where the weights start from. Each
/// has its MiniMind spelling as an alias (<see cref="MiniMindFlags"/>).</summary>
sealed class TrainModelOptions
{
    public Option<double?> GradClip { get; } = new("--grad-clip") { Description = "Gradient clipping max norm. Default: config/train, then 1.0." };
    public Option<string?> SaveWeight { get; } = new("--save-weight") { Description = "Output prefix: <prefix>_<hidden>[_moe].pth in the run dir. Default: the stage's (pretrain, full_sft, rlhf, reason, full_dist)." };
    public Option<int?> HiddenSize { get; } = new("--hidden-size") { Description = "Model width; overrides --config (without --config: MiniMind's defaults). Default: the config's." };
    public Option<int?> NumHiddenLayers { get; } = new("--num-hidden-layers") { Description = "Transformer blocks; overrides --config. Default: the config's." };
    public Option<int?> UseMoe { get; } = new("--use-moe") { Description = "1: mixture-of-experts feed-forward, 0: dense; overrides --config. Default: the config's." };
    public Option<string?> FromWeight { get; } = new("--from-weight")
    {
        Description = "Initial weights: none (random init), a weight name (pretrain, full_sft, … → <run dir>/<name>_<hidden>[_moe].pth) or a .pth/.safetensors file. Default: the previous stage's output (pretrain: none).",
    };

    public Option<string?> FromResume { get; } = new("--from-resume")
    {
        Description = "Continue a MiniMind run: a <weight>_<hidden>[_moe]_resume.pth file (model, AdamW state, step, epoch), or 1 = MiniMind's own place for it, <save_weight>_<hidden>[_moe]_resume.pth under ../checkpoints of the run dir or in it; 0 = no. Default: 0.",
    };

    public TrainModelOptions()
    {
        UseMoe.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } v and not (0 or 1)) r.AddError($"--use-moe {v}: expected 0 or 1");
        });
    }

    public IEnumerable<Option> All => [GradClip, SaveWeight, HiddenSize, NumHiddenLayers, UseMoe, FromWeight, FromResume];

    /// <summary><paramref name="request"/> with this parse's values.</summary>
    public TrainRequest Apply(ParseResult parse, TrainRequest request) => request with
    {
        GradClip = parse.GetValue(GradClip),
        SaveWeight = parse.GetValue(SaveWeight),
        HiddenSize = parse.GetValue(HiddenSize),
        NumHiddenLayers = parse.GetValue(NumHiddenLayers),
        UseMoe = parse.GetValue(UseMoe) is { } m ? m == 1 : null,
        FromWeight = parse.GetValue(FromWeight),
        FromResume = parse.GetValue(FromResume) is { } r && r != "0" ? r : null,
    };
}
