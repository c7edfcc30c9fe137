using System.Text.Json.Nodes;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Tokenizer;

public sealed class BpeTokenizerTests
{
    static BpeTokenizer Tok => TokenizerFixtures.MiniMind;

    [Fact]
    public void MiniMind_tokenizer_should_have_6400_ids_and_three_specials()
    {
        Assert.Equal(6400, Tok.VocabSize);
        Assert.Equal([0, 1, 2], Tok.SpecialTokenIds);
        Assert.Equal(0, Tok.TokenToId("<|endoftext|>"));
        Assert.Equal(1, Tok.TokenToId("<|im_start|>"));
        Assert.Equal(2, Tok.TokenToId("<|im_end|>"));
        Assert.Equal("Ġ", Tok.IdToToken(223));
        Assert.Null(Tok.IdToToken(6400));
        Assert.Null(Tok.TokenToId("no such token"));
        var special = MiniMindSpecialTokens.From(Tok);
        Assert.Equal(new MiniMindSpecialTokens(PadId: 0, BosId: 1, EosId: 2), special);
    }

    [Theory]
    [InlineData("Hello", new[] { 42, 392, 338 })]
    [InlineData(" Hello", new[] { 560, 392, 338 })]
    [InlineData(" <|im_end|> ", new[] { 223, 2, 223 })]
    [InlineData("<|im_start|>assistant", new[] { 1, 1078, 538, 501 })]
    [InlineData("</answer>", new[] { 5540, 662, 89, 275, 32 })]
    [InlineData("𠀀's", new[] { 175, 257, 225, 225, 531 })]
    [InlineData("", new int[0])]
    public void Encode_should_give_the_readme_examples(string text, int[] ids)
    {
        Assert.Equal(ids, Tok.Encode(text));
    }

    [Fact]
    public void Split_special_tokens_should_tokenize_special_strings_as_text()
    {
        Assert.Equal([30, 94, 334, 65, 377, 712, 94, 32], Tok.Encode("<|im_start|>", splitSpecialTokens: true));
    }

    [Fact]
    public void Decode_should_skip_unknown_ids_and_replace_broken_utf8()
    {
        Assert.Equal("H", Tok.Decode([-1, 6400, 42]));
        // "ä»Ĭ" is the first two bytes of 今 (E4 BB 8A); alone they are one invalid sequence → one U+FFFD.
        var partial = Tok.TokenToId("ä»")!.Value;
        Assert.Equal("\uFFFD!", Tok.Decode([partial, 3]));
        Assert.Equal("<|im_end|>", Tok.Decode([2]));
        Assert.Equal("", Tok.Decode([2], skipSpecialTokens: true));
    }

    [Fact]
    public void EncodeTo_should_append_to_the_list()
    {
        var ids = new List<int> { 7 };
        Tok.EncodeTo("Hello", ids);
        Assert.Equal([7, 42, 392, 338], ids);
    }

    [Fact]
    public void Merges_in_the_older_string_form_should_give_the_same_ids()
    {
        var root = JsonNode.Parse(File.ReadAllText(TokenizerFixtures.TokenizerJsonPath))!;
        var merges = root["model"]!["merges"]!.AsArray();
        var asStrings = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
        root["model"]!["merges"] = asStrings;
        var legacy = BpeTokenizer.FromJson(root.ToJsonString(), "legacy-merges.json");
        foreach (var r in TokenizerFixtures.ReadJsonl("corpus.jsonl"))
            Assert.Equal(r.Ints("ids"), legacy.Encode(r.Str("text")));
    }

    [Fact]
    public void Heap_and_rescan_merges_should_agree_on_long_random_words()
    {
        var rng = new Random(7);
        var scratch = new BpeTokenizer.EncodeScratch();
        var pieces = TokenizerFixtures.ReadJsonl("corpus.jsonl").Select(r => r.Str("text")).Where(t => t.Length > 0).ToArray();
        for (var n = 0; n < 300; n++)
        {
            // Byte ids of a random corpus slice, including many > 64 symbols (where Merge uses the heap).
            var text = pieces[rng.Next(pieces.Length)];
            var bytes = System.Text.Encoding.UTF8.GetBytes(text[rng.Next(text.Length)..]);
            var symbols = bytes.Select(b => Tok.TokenToId(ByteLevel.ByteToChar[b].ToString())!.Value).ToArray();
            var a = symbols.ToArray();
            var b = symbols.ToArray();
            var na = Tok.MergeByRescan(a, scratch);
            var nb = Tok.MergeByHeap(b, scratch);
            Assert.Equal(a[..na], b[..nb]);
        }
    }

    [Fact]
    public void Concurrent_encodes_should_equal_sequential_ones()
    {
        var texts = TokenizerFixtures.ReadJsonl("corpus.jsonl").Select(r => (Text: r.Str("text"), Ids: r.Ints("ids"))).ToArray();
        var fresh = BpeTokenizer.FromFile(TokenizerFixtures.TokenizerJsonPath, wordCacheCapacity: 16); // clears often
        var bad = 0;
        Parallel.For(0, texts.Length * 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var (text, ids) = texts[i % texts.Length];
            if (!fresh.Encode(text).SequenceEqual(ids)) Interlocked.Increment(ref bad);
        });
        Assert.Equal(0, bad);
    }
}
