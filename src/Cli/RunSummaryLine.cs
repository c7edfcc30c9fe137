using System.Text.Json;
using System.Text.Json.Serialization;
using MiniMind.Actors;
using static MiniMind.Actors.TrainingCoordinator;

namespace MiniMind.Cli;

/// <summary>The last stdout line of <c>minimind train</c>: one JSON object for scripts and benches (issue 11), e.g.
/// <c>{"run":"pretrain-…","stage":"pretrain","outcome":"completed","steps":60,"tokens_per_second":4612.3,
/// "loss_tokens_per_second":4100.2,"loss":6.91,"output":"/…/pretrain_64.pth","sha256":"…","elapsed_s":14.2}</c>.
/// Fields not known (no step ran: already completed; failed) are null.</summary>
sealed record RunSummaryLine(string Stage)
{
    double? tokensPerSecond;
    double? lossTokensPerSecond;
    double? loss;

    /// <summary>Takes what a report says (pure: a new value).</summary>
    public RunSummaryLine With(RunReported r) => r.Report is TrainingProgress p
        ? this with { tokensPerSecond = r.Rates.TokensPerSecond ?? tokensPerSecond, lossTokensPerSecond = r.Rates.LossTokensPerSecond ?? lossTokensPerSecond, loss = p.Loss }
        : this;

    public string Line(string? runId, TrainingFinished f, TrainingState? state, TimeSpan elapsed) =>
        JsonSerializer.Serialize(new Summary(
            runId, Stage, f.Outcome switch { Outcome.AlreadyCompleted => "already_completed", var o => o.ToString().ToLowerInvariant() },
            state?.CommittedStep ?? f.Step, Round(tokensPerSecond), Round(lossTokensPerSecond),
            Finite(loss ?? state?.LastLoss),
            f.OutputFile ?? state?.OutputFile, state?.OutputSha256, Math.Round(elapsed.TotalSeconds, 3)));

    static double? Round(double? v) => Finite(v) is { } x ? Math.Round(x, 1) : null;

    static double? Finite(double? v) => v is { } x && double.IsFinite(x) ? x : null;   // JSON has no NaN

    sealed record Summary(
        [property: JsonPropertyName("run")] string? Run,
        [property: JsonPropertyName("stage")] string Stage,
        [property: JsonPropertyName("outcome")] string Outcome,
        [property: JsonPropertyName("steps")] long Steps,
        [property: JsonPropertyName("tokens_per_second")] double? TokensPerSecond,
        [property: JsonPropertyName("loss_tokens_per_second")] double? LossTokensPerSecond,
        [property: JsonPropertyName("loss")] double? Loss,
        [property: JsonPropertyName("output")] string? Output,
        [property: JsonPropertyName("sha256")] string? Sha256,
        [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds);
}
