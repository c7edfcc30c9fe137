using MiniMind.Actors.Stages;
using MiniMind.Cli.Commands;
using Xunit;

namespace MiniMind.Cli.Tests.Commands;

/// <summary>`minimind train &lt;stage&gt; &lt;flags&gt;`, `ctl train start &lt;stage&gt; &lt;flags&gt;` and the HTTP API's JSON map
/// onto the same <see cref="TrainRequest"/> and resolve to the same settings.</summary>
public sealed class TrainRequestMappingTests
{
    static string Locate(string relative) => Path.Combine(RepoPaths.Root, relative);

    [Fact]
    public void Flags_and_json_resolve_to_the_same_settings()
    {
        var dir = TempDir.Create();
        var fromFlags = TrainStageCommands.ParseRequest("pretrain",
            ["--run-dir", dir, "--max-steps", "60", "--batch-size", "3", "--learning-rate", "0.0004", "--deterministic", "--seed", "7"]);
        var fromJson = TrainRequest.FromJson($$"""{"stage":"pretrain","runDir":"{{dir}}","maxSteps":60,"batchSize":3,"learningRate":0.0004,"deterministic":true,"seed":7}""");
        Assert.Equal(TrainRequestResolver.Resolve(fromJson, Locate).Settings, TrainRequestResolver.Resolve(fromFlags, Locate).Settings);
        Assert.Equal(TrainRequestResolver.Resolve(fromFlags, Locate).Settings,
            TrainRequestResolver.Resolve(TrainRequest.FromJson(fromFlags.ToJson()), Locate).Settings);   // what ctl sends
    }

    [Fact]
    public void Eval_flags_in_either_spelling_and_json_give_the_same_eval_settings_outside_the_runs_identity()
    {
        var dir = TempDir.Create();
        var heldOut = Locate("dataset/sft.jsonl");
        var fromFlags = TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir, "--save-interval", "50", "--eval_data", heldOut, "--eval-batches", "3"]);
        var fromJson = TrainRequest.FromJson($$"""{"stage":"pretrain","runDir":"{{dir}}","saveInterval":50,"evalData":"{{heldOut}}","evalBatches":3}""");
        var settings = TrainRequestResolver.Resolve(fromFlags, Locate).Settings;
        Assert.Equal(new Actors.EvalSettings(heldOut, 50, 3), settings.Eval);                 // the interval defaults to the save interval
        Assert.Equal(settings, TrainRequestResolver.Resolve(fromJson, Locate).Settings);
        Assert.Equal(settings, Actors.TrainingSettings.FromJson(settings.ToJson()));         // journaled and read back
        Assert.Equal(settings.Identity(), (settings with { Eval = null }).Identity());       // a resume may switch it on or off
        Assert.DoesNotContain("Eval", (settings with { Eval = null }).ToJson(), StringComparison.Ordinal);   // older runs' JSON unchanged
        var dpo = TrainStageCommands.ParseRequest("dpo", ["--run-dir", dir, "--eval-data", heldOut]);
        Assert.Contains("--eval-data: not for the dpo stage", Assert.Throws<ArgumentException>(() => TrainRequestResolver.Resolve(dpo, Locate)).Message);
        var zero = TrainStageCommands.ParseRequest("pretrain", ["--run-dir", dir, "--eval-data", heldOut, "--eval-interval", "0"]);
        Assert.Contains("--eval-interval 0", Assert.Throws<ArgumentException>(() => TrainRequestResolver.Resolve(zero, Locate)).Message);
    }

    [Fact]
    public void Node_options_are_refused_in_a_run_request_naming_them()
    {
        Assert.Contains("--journal", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--journal", "sqlite"])).Message);
        Assert.Contains("--control", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--control", "off"])).Message);
        Assert.Contains("--bogus", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--bogus", "1"])).Message);
    }
}
