using System.CommandLine;
using MiniMind.Model;

namespace MiniMind.Cli;

/// <summary>eval_model.py's sampling flags, shared by chat and eval: top-p sampling at temperature 0.85 / top_p 0.85,
/// the RNG re-seeded with 2026 before every answer (setup_seed(2026)), so one prompt always gets one answer.</summary>
public sealed class SamplingOptions
{
    public Option<double> Temperature { get; } = new("--temperature") { Description = "Sampling temperature. Default: 0.85 (MiniMind's).", DefaultValueFactory = _ => 0.85 };
    public Option<double> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass. Default: 0.85 (MiniMind's).", DefaultValueFactory = _ => 0.85 };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed the sampler is reset to before every answer. Default: 2026 (MiniMind's).", DefaultValueFactory = _ => 2026 };
    public Option<bool> Greedy { get; } = new("--greedy") { Description = "Take the most likely token instead of sampling." };
    public Option<int> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "Most tokens per answer (the context length also limits it). Default: 8192 (MiniMind's max_seq_len).", DefaultValueFactory = _ => 8192 };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Temperature, TopP, Seed, Greedy, MaxNewTokens }) command.Options.Add(o);
    }

    public GenerationOptions Read(ParseResult parse, MiniMindConfig config)
    {
        var t = parse.GetValue(Temperature);
        if (t <= 0) throw new ArgumentException($"--temperature {t}: must be > 0 (use --greedy for argmax)");
        var p = parse.GetValue(TopP);
        if (p is <= 0 or > 1) throw new ArgumentException($"--top-p {p}: must be in (0, 1]");
        var max = parse.GetValue(MaxNewTokens);
        if (max < 1) throw new ArgumentException($"--max-new-tokens {max}: must be at least 1");
        return new GenerationOptions
        {
            MaxNewTokens = max,
            Greedy = parse.GetValue(Greedy),
            Temperature = t,
            TopP = p,
            Seed = parse.GetValue(Seed),
            EosTokenId = config.EosTokenId,
        };
    }
}
