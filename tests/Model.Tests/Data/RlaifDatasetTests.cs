using MiniMind.Model.Data;
using MiniMind.Model.Data.Shards;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Data;

/// <summary>RLAIF prompts (MiniMind's RLAIFDataset): the context before the empty assistant turn, the chat template,
/// the generation prompt and the newest template's &lt;think&gt; prefix; bad records name file and line.</summary>
public sealed class RlaifDatasetTests : IDisposable
{
    readonly TempDir dir = new();
    static readonly BpeTokenizer Tokenizer = BpeTokenizer.FromFile(RepoPaths.Tokenizer);

    public void Dispose() => dir.Dispose();

    string Write(params string[] lines)
    {
        var path = dir.File("rlaif.jsonl");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    const string Good = """{"conversations":[{"role":"user","content":"How many bridges does Brookvale have?"},{"role":"assistant","content":""}]}""";

    [Fact]
    public void A_prompt_is_the_template_with_the_generation_prompt_and_the_thinking_prefix()
    {
        var path = Write(Good, """{"conversations":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":""}]}""");
        var on = RlaifDataset.Load(path, Tokenizer, 512, thinkingRatio: 1.0, seed: 42);
        var off = RlaifDataset.Load(path, Tokenizer, 512, thinkingRatio: 0.0, seed: 42);
        Assert.Equal(2, on.Count);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHow many bridges does Brookvale have?<|im_end|>\n<|im_start|>assistant\n<think>\n",
            Tokenizer.Decode(on.Prompt(0)));
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            Tokenizer.Decode(off.Prompt(1)));

        var sample = on.Get(0);                                           // X: the prompt, right-padded; mask 1 on it
        var n = on.Prompt(0).Length;
        Assert.Equal(512, sample.X.Length);
        Assert.Equal(on.Prompt(0), sample.X[..n]);
        Assert.All(sample.X[n..], id => Assert.Equal(0, id));
        Assert.Equal(n, (int)sample.LossMask.Sum());
    }

    [Fact]
    public void The_thinking_draw_depends_on_seed_and_index_only_and_follows_the_ratio()
    {
        var draws = Enumerable.Range(0, 4000).Select(i => RlaifDataset.Draw(42, i)).ToArray();
        Assert.Equal(draws, Enumerable.Range(0, 4000).Select(i => RlaifDataset.Draw(42, i)));
        Assert.NotEqual(draws, Enumerable.Range(0, 4000).Select(i => RlaifDataset.Draw(43, i)));
        Assert.InRange(draws.Count(d => d < 0.9) / 4000.0, 0.88, 0.92);
    }

    [Fact]
    public void A_long_prompt_keeps_its_last_max_seq_len_tokens()
    {
        var path = Write($$"""{"conversations":[{"role":"user","content":"{{string.Join(" ", Enumerable.Repeat("Amberford has green roofs.", 40))}}"},{"role":"assistant","content":""}]}""");
        var full = RlaifDataset.Load(path, Tokenizer, 4096, 0.0, 42).Prompt(0);
        var cut = RlaifDataset.Load(path, Tokenizer, 32, 0.0, 42).Prompt(0);
        Assert.True(full.Length > 32);
        Assert.Equal(full[^32..], cut);
    }

    [Theory]
    [InlineData("""{"conversations":[{"role":"user","content":"Hi"}]}""", "conversations[0]: the last turn must be the assistant's")]
    [InlineData("""{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}""", "conversations[1].content: the last (assistant) turn must be empty")]
    [InlineData("""{"text":"Hi"}""", "missing \"conversations\"")]
    [InlineData("""{"conversations":[{"role":"user","content":"Hi"},{"role":"assistant","content":"","tool_calls":[{"name":"x"}]}]}""", "conversations[1].tool_calls")]
    [InlineData("not json", "invalid JSON")]
    public void A_bad_record_names_file_and_line(string bad, string reason)
    {
        var path = Write(Good, bad);
        var e = Assert.Throws<DataFormatException>(() => RlaifDataset.Load(path, Tokenizer, 512, 0.9, 42));
        Assert.StartsWith($"{path}:2: ", e.Message);
        Assert.Contains(reason, e.Message);

        var skipping = RlaifDataset.Load(path, Tokenizer, 512, 0.9, 42, skipBadLines: true);
        Assert.Equal(1, skipping.Count);
        Assert.Equal(1, skipping.LinesSkipped);
        Assert.StartsWith($"{path}:2: ", skipping.SkippedReasons[0]);
    }

    [Fact]
    public void The_shipped_sample_prompts_all_load()
    {
        var set = RlaifDataset.Load(RepoPaths.Dataset("rlaif.jsonl"), Tokenizer, 96, 0.9, 42);
        Assert.InRange(set.Count, 30, 100);
        Assert.Equal(0, set.LinesSkipped);
    }
}
