using System.Text.Json.Nodes;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Model.Tests.Tokenizer;

/// <summary>A bad tokenizer.json fails with the file and the field in the message.</summary>
public sealed class TokenizerJsonErrorTests
{
    static readonly string s_json = File.ReadAllText(TokenizerFixtures.TokenizerJsonPath);

    static TokenizerFormatException Load(Action<JsonNode> edit)
    {
        var root = JsonNode.Parse(s_json)!;
        edit(root);
        return Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromJson(root.ToJsonString(), "bad/tokenizer.json"));
    }

    static void AssertNames(TokenizerFormatException e, string field)
    {
        Assert.StartsWith("bad/tokenizer.json: " + field + ":", e.Message, StringComparison.Ordinal);
        Assert.Equal(field, e.Field);
    }

    [Fact]
    public void Missing_file_should_name_the_path()
    {
        var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromFile("/nonexistent/tokenizer.json"));
        Assert.Contains("/nonexistent/tokenizer.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_should_be_reported()
    {
        var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromJson("{\"model\": [", "bad/tokenizer.json"));
        AssertNames(e, "(document)");
    }

    [Fact]
    public void Merge_with_unknown_token_should_name_its_index()
    {
        AssertNames(Load(r => r["model"]!["merges"]![5] = new JsonArray("Ġ", "no-such-token")), "model.merges[5]");
    }

    [Fact]
    public void Malformed_merge_should_name_its_index()
    {
        AssertNames(Load(r => r["model"]!["merges"]![3] = 42), "model.merges[3]");
        AssertNames(Load(r => r["model"]!["merges"]![4] = "nospace"), "model.merges[4]");
    }

    [Fact]
    public void Missing_vocab_should_be_named()
    {
        AssertNames(Load(r => r["model"]!.AsObject().Remove("vocab")), "model.vocab");
    }

    [Fact]
    public void Non_integer_vocab_id_should_name_the_token()
    {
        AssertNames(Load(r => r["model"]!["vocab"]!["Ġt"] = "x"), "model.vocab[\"Ġt\"]");
    }

    [Fact]
    public void Vocab_without_a_byte_char_should_be_rejected()
    {
        AssertNames(Load(r => r["model"]!["vocab"]!.AsObject().Remove("Ā")), "model.vocab");
    }

    [Fact]
    public void Unsupported_pieces_should_be_named()
    {
        AssertNames(Load(r => r["normalizer"] = new JsonObject { ["type"] = "NFC" }), "normalizer");
        AssertNames(Load(r => r["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }), "pre_tokenizer");
        AssertNames(Load(r => r["model"]!["type"] = "WordPiece"), "model.type");
        AssertNames(Load(r => r["model"]!["dropout"] = 0.1), "model.dropout");
        AssertNames(Load(r => r["added_tokens"]![1]!["lstrip"] = true), "added_tokens[1].lstrip");
        AssertNames(Load(r => r["added_tokens"]![2]!["content"] = ""), "added_tokens[2].content");
        AssertNames(Load(r => r["decoder"] = new JsonObject { ["type"] = "WordPiece" }), "decoder");
    }
}
