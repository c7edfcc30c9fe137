using System.Text.Json;

namespace MiniMind.Model.Tokenizer;

/// <summary>What <see cref="BpeTokenizer"/> needs from a HuggingFace tokenizer.json.</summary>
internal sealed record TokenizerDefinition(
    Dictionary<string, int> Vocab,
    List<(string Left, string Right)> Merges,
    List<AddedToken> AddedTokens,
    bool AddPrefixSpace,
    bool UseRegex,
    bool IgnoreMerges);

internal sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>
/// Reads the subset of tokenizer.json that byte-level BPE tokenizers (GPT-2, MiniMind, Qwen…) use, and
/// refuses, naming the field, anything it would not reproduce exactly (normalizers, other pre-tokenizers,
/// lstrip/rstrip added tokens, subword prefixes, dropout).
/// </summary>
internal static class TokenizerJson
{
    /// <summary>Ids index dense tables, so an absurd id is a format error rather than a huge allocation.</summary>
    const int MaxId = 1 << 24;

    public static TokenizerDefinition Parse(string json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(source, "(document)", $"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error(source, "(root)", "expected a JSON object");

            RequireNullOrAbsent(root, "normalizer", source, "normalizers are not supported (MiniMind's is null)");

            var pre = Property(root, "pre_tokenizer", source);
            if (pre.ValueKind != JsonValueKind.Object || TypeName(pre) != "ByteLevel")
                throw Error(source, "pre_tokenizer", $"expected {{\"type\":\"ByteLevel\",…}}, got {Short(pre)}");
            var addPrefixSpace = OptionalBool(pre, "add_prefix_space", false, source, "pre_tokenizer");
            var useRegex = OptionalBool(pre, "use_regex", true, source, "pre_tokenizer");

            if (root.TryGetProperty("post_processor", out var post) && post.ValueKind != JsonValueKind.Null
                && TypeName(post) != "ByteLevel")
                throw Error(source, "post_processor", $"only null or ByteLevel is supported, got {Short(post)}");

            if (root.TryGetProperty("decoder", out var dec) && dec.ValueKind != JsonValueKind.Null && TypeName(dec) != "ByteLevel")
                throw Error(source, "decoder", $"only ByteLevel is supported, got {Short(dec)}");

            var model = Property(root, "model", source);
            if (model.ValueKind != JsonValueKind.Object) throw Error(source, "model", "expected an object");
            if (model.TryGetProperty("type", out var mt) && mt.GetString() != "BPE")
                throw Error(source, "model.type", $"expected \"BPE\", got {Short(mt)}");
            RequireNullOrAbsent(model, "dropout", source, "BPE dropout is not supported", "model.");
            foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
                if (model.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null && v.GetString() != "")
                    throw Error(source, "model." + name, "must be null for byte-level BPE");
            var ignoreMerges = OptionalBool(model, "ignore_merges", false, source, "model");

            var vocab = ReadVocab(Property(model, "vocab", source, "model."), source);
            var merges = ReadMerges(Property(model, "merges", source, "model."), source);
            var added = root.TryGetProperty("added_tokens", out var at) && at.ValueKind != JsonValueKind.Null
                ? ReadAddedTokens(at, source)
                : [];
            return new TokenizerDefinition(vocab, merges, added, addPrefixSpace, useRegex, ignoreMerges);
        }
    }

    static Dictionary<string, int> ReadVocab(JsonElement vocab, string source)
    {
        if (vocab.ValueKind != JsonValueKind.Object) throw Error(source, "model.vocab", "expected an object {token: id}");
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocab.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var id) || id < 0 || id >= MaxId)
                throw Error(source, $"model.vocab[\"{p.Name}\"]", $"expected an integer id in [0, {MaxId}), got {Short(p.Value)}");
            map[p.Name] = id;
        }
        return map;
    }

    static List<(string, string)> ReadMerges(JsonElement merges, string source)
    {
        if (merges.ValueKind != JsonValueKind.Array) throw Error(source, "model.merges", "expected an array");
        var list = new List<(string, string)>(merges.GetArrayLength());
        var i = 0;
        foreach (var m in merges.EnumerateArray())
        {
            var field = $"model.merges[{i}]";
            if (m.ValueKind == JsonValueKind.String)
            {
                // Older form "a b": exactly one space separates the two tokens.
                var s = m.GetString()!;
                var sp = s.IndexOf(' ', StringComparison.Ordinal);
                if (sp <= 0 || sp == s.Length - 1 || s.IndexOf(' ', sp + 1) >= 0)
                    throw Error(source, field, $"expected \"left right\", got {Short(m)}");
                list.Add((s[..sp], s[(sp + 1)..]));
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            {
                list.Add((m[0].GetString()!, m[1].GetString()!));
            }
            else
            {
                throw Error(source, field, $"expected \"left right\" or [\"left\",\"right\"], got {Short(m)}");
            }
            i++;
        }
        return list;
    }

    static List<AddedToken> ReadAddedTokens(JsonElement added, string source)
    {
        if (added.ValueKind != JsonValueKind.Array) throw Error(source, "added_tokens", "expected an array");
        var list = new List<AddedToken>();
        var i = 0;
        foreach (var t in added.EnumerateArray())
        {
            var field = $"added_tokens[{i}]";
            if (t.ValueKind != JsonValueKind.Object) throw Error(source, field, "expected an object");
            var id = Property(t, "id", source, field + ".");
            if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var idValue) || idValue < 0 || idValue >= MaxId)
                throw Error(source, field + ".id", $"expected an integer in [0, {MaxId}), got {Short(id)}");
            var content = Property(t, "content", source, field + ".");
            if (content.ValueKind != JsonValueKind.String || content.GetString()!.Length == 0)
                throw Error(source, field + ".content", $"expected a non-empty string, got {Short(content)}");
            foreach (var flag in new[] { "lstrip", "rstrip", "single_word" })
                if (OptionalBool(t, flag, false, source, field))
                    throw Error(source, $"{field}.{flag}", "true is not supported");
            var special = OptionalBool(t, "special", false, source, field);
            list.Add(new AddedToken(idValue, content.GetString()!, special));
            i++;
        }
        return list;
    }

    static JsonElement Property(JsonElement obj, string name, string source, string prefix = "")
    {
        if (!obj.TryGetProperty(name, out var v)) throw Error(source, prefix + name, "missing");
        return v;
    }

    static bool OptionalBool(JsonElement obj, string name, bool fallback, string source, string prefix)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(source, $"{prefix}.{name}", $"expected true or false, got {Short(v)}"),
        };
    }

    static void RequireNullOrAbsent(JsonElement obj, string name, string source, string why, string prefix = "")
    {
        if (obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null)
            throw Error(source, prefix + name, $"{why}; got {Short(v)}");
    }

    static string? TypeName(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()
            : null;

    static string Short(JsonElement e)
    {
        var raw = e.GetRawText();
        return raw.Length <= 60 ? raw : raw[..57] + "...";
    }

    internal static TokenizerFormatException Error(string source, string field, string problem) => new(source, field, problem);
}
