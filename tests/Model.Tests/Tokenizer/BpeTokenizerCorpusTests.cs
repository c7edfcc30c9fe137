using Xunit;
using System.Text;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Tests.Tokenizer;

/// <summary>corpus.jsonl: ids, ids_split_special, decoded and decoded_skip_special from HF tokenizers 0.22.2.</summary>
public sealed class BpeTokenizerCorpusTests
{
    static readonly IReadOnlyList<System.Text.Json.JsonElement> s_corpus = TokenizerFixtures.ReadJsonl("corpus.jsonl");

    [Fact]
    public void Corpus_should_have_all_293_records()
    {
        Assert.Equal(293, s_corpus.Count);
    }

    [Fact]
    public void Encode_should_match_every_corpus_line()
    {
        var tok = TokenizerFixtures.MiniMind;
        var bad = s_corpus.Where(r => !tok.Encode(r.Str("text")).SequenceEqual(r.Ints("ids"))).Select(r => r.Str("id")).ToList();
        Report("ids", bad);
    }

    [Fact]
    public void Encode_with_split_special_tokens_should_match_every_corpus_line()
    {
        var tok = TokenizerFixtures.MiniMind;
        var bad = s_corpus.Where(r => !tok.Encode(r.Str("text"), splitSpecialTokens: true).SequenceEqual(r.Ints("ids_split_special")))
            .Select(r => r.Str("id")).ToList();
        Report("ids_split_special", bad);
    }

    [Fact]
    public void Decode_should_match_every_corpus_line()
    {
        var tok = TokenizerFixtures.MiniMind;
        var bad = s_corpus.Where(r => tok.Decode(r.Ints("ids")) != r.Str("decoded")).Select(r => r.Str("id")).ToList();
        Report("decoded", bad);
    }

    [Fact]
    public void Decode_skipping_special_tokens_should_match_every_corpus_line()
    {
        var tok = TokenizerFixtures.MiniMind;
        var bad = s_corpus.Where(r => tok.Decode(r.Ints("ids"), skipSpecialTokens: true) != r.Str("decoded_skip_special"))
            .Select(r => r.Str("id")).ToList();
        Report("decoded_skip_special", bad);
    }

    [Fact]
    public void Tokens_should_match_vocab_strings_of_every_corpus_line()
    {
        var tok = TokenizerFixtures.MiniMind;
        var bad = s_corpus.Where(r => !r.Ints("ids").Select(tok.IdToToken)
                .SequenceEqual(r.GetProperty("tokens").EnumerateArray().Select(t => t.GetString())))
            .Select(r => r.Str("id")).ToList();
        Report("tokens", bad);
    }

    static void Report(string field, List<string> bad)
    {
        TestContext.Current.TestOutputHelper?.WriteLine($"corpus.jsonl {field}: {s_corpus.Count - bad.Count}/{s_corpus.Count} match");
        Assert.True(bad.Count == 0, $"{field}: {bad.Count} of {s_corpus.Count} lines differ: {string.Join(", ", bad.Take(20))}");
    }
}
