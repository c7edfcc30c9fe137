using System.Text.Json;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Tokenizer;

public class BpeTrainerPreTokenizerTests
{
    [Theory]
    [InlineData("Hello world's  end\n\nnext", new[] { "Hello", " world", "'s", " ", " end", "\n", "\n", "next" })]
    [InlineData("a  b", new[] { "a", " ", " b" })]
    [InlineData("a\tb", new[] { "a", "\t", "b" })]
    [InlineData("x   ", new[] { "x", "   " })]
    [InlineData("it'S don't we'll", new[] { "it", "'", "S", " don", "'t", " we", "'ll" })]
    [InlineData("!'s 12ab ½", new[] { "!'", "s", " 12", "ab", " ½" })]
    [InlineData("𠀀's 𝐀1", new[] { "𠀀", "'s", " 𝐀", "1" })]
    [InlineData("你好，世界。", new[] { "你好", "，", "世界", "。" })]
    [InlineData(" \n x", new[] { " \n", " x" })]
    [InlineData("a\n\n\n", new[] { "a", "\n\n\n" })]
    public void Splits_like_the_GPT2_byte_level_pattern(string text, string[] expected) =>
        Assert.Equal(expected, BpeTrainerPreTokenizer.Split(text));

    /// <summary>Checks the pre-tokenizer against HF's ids for the 293 fixture texts: apply MiniMind's merges inside each
    /// of our pieces (a naive reference BPE, test-only) and compare with <c>ids_split_special</c>. A piece boundary in the
    /// wrong place would show up as different ids.</summary>
    [Fact]
    public void Pieces_reproduce_HF_ids_on_the_fixture_corpus()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TokenizerFixtures, "minimind", "tokenizer.json")));
        var model = doc.RootElement.GetProperty("model");
        var vocab = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var ranks = new Dictionary<(string, string), int>();
        foreach (var m in model.GetProperty("merges").EnumerateArray())
            ranks[(m[0].GetString()!, m[1].GetString()!)] = ranks.Count;

        var checkedLines = 0;
        foreach (var line in File.ReadLines(Path.Combine(RepoPaths.TokenizerFixtures, "corpus.jsonl")))
        {
            using var rec = JsonDocument.Parse(line);
            var text = rec.RootElement.GetProperty("text").GetString()!;
            var expected = rec.RootElement.GetProperty("ids_split_special").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = BpeTrainerPreTokenizer.Split(text)
                .SelectMany(piece => NaiveBpe(BpeTrainerByteAlphabet.Encode(piece), ranks))
                .Select(t => vocab[t]).ToArray();
            Assert.True(expected.SequenceEqual(actual), $"{rec.RootElement.GetProperty("id")}: {text}");
            checkedLines++;
        }
        Assert.Equal(293, checkedLines);
    }

    static List<string> NaiveBpe(string word, Dictionary<(string, string), int> ranks)
    {
        var parts = word.Select(c => c.ToString()).ToList();
        while (parts.Count > 1)
        {
            var best = -1;
            var bestRank = int.MaxValue;
            for (var i = 0; i + 1 < parts.Count; i++)
                if (ranks.TryGetValue((parts[i], parts[i + 1]), out var r) && r < bestRank) (best, bestRank) = (i, r);
            if (best < 0) break;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        return parts;
    }
}
