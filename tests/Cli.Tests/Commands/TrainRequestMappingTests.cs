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
    public void Node_options_are_refused_in_a_run_request_naming_them()
    {
        Assert.Contains("--journal", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--journal", "sqlite"])).Message);
        Assert.Contains("--control", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--control", "off"])).Message);
        Assert.Contains("--bogus", Assert.Throws<ArgumentException>(() => TrainStageCommands.ParseRequest("pretrain", ["--bogus", "1"])).Message);
    }
}
