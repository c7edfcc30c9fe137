using System.Text.Json;
using MiniMind.Model;
using MiniMind.Model.Data;
using MiniMind.Model.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace MiniMind.Cli.Tests.Commands;

public class EvalCommandTests
{
    static string Jsonl(params object[] lines)
    {
        var path = Path.Combine(TempDir.Create(), "heldout.jsonl");
        File.WriteAllLines(path, lines.Select(l => JsonSerializer.Serialize(l)));
        return path;
    }

    /// <summary>exp of the training loss (Losses.MaskedCrossEntropy) over all samples as one padded batch.</summary>
    static (double Ppl, long Tokens) TrainingLossPerplexity(ChatModel chat, IReadOnlyList<(int[] X, int[] Y, int[] Mask)> samples)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var T = samples[0].X.Length;
        var x = tensor(samples.SelectMany(s => s.X).Select(i => (long)i).ToArray(), [samples.Count, T]);
        var y = tensor(samples.SelectMany(s => s.Y).Select(i => (long)i).ToArray(), [samples.Count, T]);
        var mask = tensor(samples.SelectMany(s => s.Mask).Select(i => (float)i).ToArray(), [samples.Count, T]);
        var loss = Losses.MaskedCrossEntropy(chat.Model.call(x).logits, y, mask).item<float>();
        return (Math.Exp(loss), samples.Sum(s => s.Mask.Sum()));
    }

    static JsonElement LastJson(ChildProcess.Result r) => JsonDocument.Parse(r.LastLine).RootElement;

    [Fact]
    public async Task Perplexity_on_pretrain_text_is_exp_of_the_training_loss_over_the_file()
    {
        string[] texts = ["The cat sat on the mat.", "A longer line of plain text, with some punctuation; and numbers 1 2 3.", "短句子。"];
        var data = Jsonl([.. texts.Select(t => new { text = t })]);
        var r = await CliRunner.RunAsync(["eval", .. TestRunDir.Args(0), "--no-prompts", "--data", data, "--max-seq-len", "32"]);
        Assert.True(r.ExitCode == 0, r.Error);

        var chat = TestRunDir.Load(0);
        using var _ = chat.Model;
        var samples = texts.Select(t => PretrainSample.Build(chat.Tokenizer, t, 32, 0)).Select(s => (s.X, s.Y, s.LossMaskShifted)).ToList();
        var (ppl, tokens) = TrainingLossPerplexity(chat, samples);
        var report = LastJson(r);
        Assert.Equal(tokens, report.GetProperty("tokens").GetInt64());
        Assert.Equal(3, report.GetProperty("samples").GetInt32());
        Assert.Equal(ppl, report.GetProperty("perplexity").GetDouble(), ppl * 1e-4);
        Assert.Contains($"over {tokens:N0} tokens", r.Out);
    }

    [Fact]
    public async Task Perplexity_on_sft_conversations_scores_only_the_assistant_tokens()
    {
        var data = Jsonl(
            new { conversations = new[] { new { content = "What is 2+3?" }, new { content = "It is 5." } } },
            new { conversations = new[] { new { content = "Hi" }, new { content = "Hello! How can I help?" }, new { content = "Thanks" }, new { content = "You're welcome." } } });
        var r = await CliRunner.RunAsync(["eval", .. TestRunDir.Args(1), "--no-prompts", "--data", data, "--max-seq-len", "96"]);
        Assert.True(r.ExitCode == 0, r.Error);

        var chat = TestRunDir.Load(1);
        using var _ = chat.Model;
        var tokens = SampleTokens.From(chat.Tokenizer);
        var samples = new[]
        {
            SftSample.Build(chat.Tokenizer, ["What is 2+3?", "It is 5."], 96, tokens),
            SftSample.Build(chat.Tokenizer, ["Hi", "Hello! How can I help?", "Thanks", "You're welcome."], 96, tokens),
        }.Select(s => (s.X, s.Y, s.LossMaskShifted)).ToList();
        var (ppl, count) = TrainingLossPerplexity(chat, samples);
        var report = LastJson(r);
        Assert.Equal(count, report.GetProperty("tokens").GetInt64());
        Assert.True(count < samples.Sum(s => s.X.Count(id => id != 0)), "prompt tokens are not scored");
        Assert.Equal(ppl, report.GetProperty("perplexity").GetDouble(), ppl * 1e-4);
    }

    [Theory]
    [InlineData("{\"text\":\"ok\"}\n{\"text\":5}\n", ":2: \"text\" must be a string")]
    [InlineData("{\"text\":\"ok\"}\n{broken\n", ":2: invalid JSON")]
    [InlineData("{\"text\":\"ok\"}\n{\"conversations\":[{\"content\":\"a\"}]}\n", ":2: a Sft line in a Pretrain file")]
    [InlineData("{\"other\":1}\n", ":1: expected a \"text\" (pretrain) or \"conversations\" (SFT) field")]
    public async Task A_bad_data_line_is_an_input_error_naming_file_and_line(string content, string message)
    {
        var path = Path.Combine(TempDir.Create(), "bad.jsonl");
        File.WriteAllText(path, content);
        var r = await CliRunner.RunAsync(["eval", .. TestRunDir.Args(0), "--no-prompts", "--data", path]);
        Assert.Equal((int)ExitCode.InputError, r.ExitCode);
        Assert.Contains(path + message, r.Error);
    }

    [Theory]
    [InlineData(0, null, 7)]
    [InlineData(1, null, 9)]
    [InlineData(1, "lora_medical", 8)]
    public async Task The_built_in_prompt_set_follows_the_mode_and_lora(int mode, string? lora, int count)
    {
        string[] args = ["eval", .. TestRunDir.Args(mode), "--max-new-tokens", "2"];
        if (lora is not null) args = [.. args, "--lora", lora];
        var r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == 0, r.Error);
        var prompts = r.Out.Split('\n').Where(l => l.StartsWith("👶: ", StringComparison.Ordinal)).Select(l => l["👶: ".Length..]).ToList();
        Assert.Equal(EvalPrompts.For(mode != 0, lora), prompts);
        Assert.Equal(count, prompts.Count);
        Assert.Equal(count, LastJson(r).GetProperty("prompts").GetInt32());
    }

    [Fact]
    public async Task Perplexity_of_a_run_dirs_own_output_joins_that_runs_history_at_its_last_step()
    {
        using var dir = new TempDir();
        var runDir = dir.File("run");
        var train = await CliRunner.RunAsync(["train", "pretrain", "--preset", "tiny", "--run-dir", runDir, "--max-steps", "3", "--batch-size", "2",
            "--max-seq-len", "32", "--accumulation-steps", "1", "--deterministic", "--threads", "1", "--control", "off"]);
        Assert.True(train.ExitCode == 0, train.Error);
        var data = Jsonl(new { text = "The cat sat on the mat." }, new { text = "A line of held-out text." });
        var r = await CliRunner.RunAsync(["eval", "--run-dir", runDir, "--model-mode", "0", "--tokenizer", TestRunDir.Tokenizer, "--threads", "1",
            "--no-prompts", "--data", data, "--max-seq-len", "32"]);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("recorded as the held-out evaluation of pretrain at step 3", r.Out, StringComparison.Ordinal);
        var report = LastJson(r);
        Assert.Equal(3, report.GetProperty("recorded_step").GetInt64());

        var export = await CliRunner.RunAsync(["run", "metrics", "--run-dir", runDir, "--format", "jsonl"]);
        Assert.True(export.ExitCode == 0, export.Error);
        var rows = export.Out.TrimEnd().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([1L, 2, 3], rows.Select(x => x.GetProperty("step").GetInt64()));
        Assert.Equal(report.GetProperty("mean_nll").GetDouble(), rows[2].GetProperty("eval_loss").GetDouble());
        Assert.Equal(report.GetProperty("perplexity").GetDouble(), rows[2].GetProperty("eval_ppl").GetDouble());
        Assert.All(rows.Take(2), x => Assert.Equal(JsonValueKind.Null, x.GetProperty("eval_loss").ValueKind));

        // weights that no run of the run dir wrote (the shared test run dir has no journal): nothing recorded
        var elsewhere = await CliRunner.RunAsync(["eval", .. TestRunDir.Args(0), "--no-prompts", "--data", data, "--max-seq-len", "32"]);
        Assert.True(elsewhere.ExitCode == 0, elsewhere.Error);
        Assert.DoesNotContain("recorded", elsewhere.Out, StringComparison.Ordinal);
        Assert.False(LastJson(elsewhere).TryGetProperty("recorded_step", out _));
    }
}
