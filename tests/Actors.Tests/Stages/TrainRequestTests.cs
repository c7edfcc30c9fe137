using MiniMind.Actors.Stages;
using Xunit;

namespace MiniMind.Actors.Tests.Stages;

/// <summary>The typed train request (issue 11): one resolver for the CLI's flags and the HTTP API's JSON.</summary>
public sealed class TrainRequestTests
{
    static string Locate(string relative) => Path.Combine(RepoPaths.Root, relative);

    [Fact]
    public void Json_fields_are_the_flags_in_camel_case_and_resolve_over_the_config_files()
    {
        var dir = Directory.CreateTempSubdirectory("minimind-request-").FullName;
        var request = TrainRequest.FromJson($$"""{"stage":"pretrain","config":"tiny","runDir":"{{dir}}","maxSteps":60,"batchSize":3,"learningRate":0.0004,"deterministic":true}""");
        Assert.Equal(new TrainRequest { Stage = "pretrain", Config = "tiny", RunDir = dir, MaxSteps = 60, BatchSize = 3, LearningRate = 4e-4, Deterministic = true }, request);
        Assert.Equal(request, TrainRequest.FromJson(request.ToJson()));

        var r = TrainRequestResolver.Resolve(request, Locate);
        Assert.Equal((60L, 3, 4e-4, 1), (r.Settings.MaxSteps, r.Settings.BatchSize, r.Settings.LearningRate, r.Settings.Threads));   // deterministic: one thread
        Assert.Equal(Locate("dataset/pretrain.jsonl"), r.Settings.DataPath);
        Assert.Contains(r.TrainConfigSources, f => f.EndsWith(Path.Combine("config", "train", "pretrain.tiny.json"), StringComparison.Ordinal));
        Assert.Equal(TrainRequestResolver.Resolve(request with { BatchSize = null }, Locate).Settings with { BatchSize = 3 }, r.Settings);
    }

    [Theory]
    [InlineData("""{"stage":"pretrain","batchsize":3}""", "batchsize")]
    [InlineData("""{"stage":"pretrain","batchSize":"three"}""", "batchSize")]
    [InlineData("""{"stage":"pretrain","maxSteps":1.5}""", "maxSteps")]
    public void An_unknown_or_mistyped_field_is_one_error_naming_it(string json, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => TrainRequest.FromJson(json));
        Assert.Contains($"'{field}'", e.Message);
    }

    [Theory]
    [InlineData("batchSize", "--batch-size must be ≥ 1")]
    [InlineData("beta", "--beta (beta) applies to the dpo and grpo stages only")]
    [InlineData("stage", "stage: unknown stage 'pretrian'")]
    public void A_bad_value_is_one_error_naming_the_field(string field, string message)
    {
        var request = field switch
        {
            "batchSize" => new TrainRequest { Stage = "pretrain", BatchSize = 0 },
            "beta" => new TrainRequest { Stage = "pretrain", Beta = 0.2 },
            _ => new TrainRequest { Stage = "pretrian" },
        };
        var e = Assert.Throws<ArgumentException>(() => TrainRequestResolver.Resolve(request, Locate));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void A_config_whose_vocab_size_is_below_the_tokenizers_is_bad_input_naming_file_and_field()
    {
        var dir = Directory.CreateTempSubdirectory("minimind-request-").FullName;
        var config = Path.Combine(dir, "small-vocab.json");
        File.WriteAllText(config, """{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}""");
        var request = new TrainRequest { Stage = "pretrain", Config = config, RunDir = dir };
        var e = Assert.Throws<InvalidDataException>(() => TrainRequestResolver.Resolve(request, Locate));
        Assert.StartsWith($"{config}: vocab_size 100 is smaller than the tokenizer's 6400 tokens", e.Message, StringComparison.Ordinal);
        File.WriteAllText(config, """{"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 6400}""");
        Assert.Equal(6400, TrainRequestResolver.Resolve(request, Locate).Settings.Config.VocabSize);   // equal is fine
    }

    [Fact]
    public void Skip_bad_lines_is_a_request_field_that_is_not_part_of_the_runs_identity()
    {
        var request = TrainRequest.FromJson("""{"stage":"pretrain","skipBadLines":true}""");
        Assert.True(request.SkipBadLines);
        var skipping = TrainRequestResolver.Resolve(request, Locate).Settings;
        var strict = TrainRequestResolver.Resolve(request with { SkipBadLines = null }, Locate).Settings;
        Assert.True(skipping.SkipBadLines);
        Assert.False(strict.SkipBadLines);
        Assert.Empty(skipping.IdentityDifferences(strict));
        Assert.True(TrainingSettings.FromJson(skipping.ToJson()).SkipBadLines);
        Assert.DoesNotContain("SkipBadLines", strict.ToJson(), StringComparison.Ordinal);   // settings journaled before it existed read the same
    }
}
