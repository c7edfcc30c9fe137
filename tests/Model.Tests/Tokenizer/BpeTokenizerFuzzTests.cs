using System.Text;
using System.Text.Json.Nodes;
using MiniMind.Model.Tokenizer;
using Xunit;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace MiniMind.Model.Tests.Tokenizer;

/// <summary>
/// Random strings (fixed seed) encoded and decoded by ours and by HF's Rust tokenizers through
/// Tokenizers.DotNet, which fixes its flags: Encode recognises special tokens, Decode skips them. The other
/// two modes come from derived tokenizer.json copies, as the fixture generator made them (README "How it was
/// produced"): added_tokens = [] for split-special encoding, special = false for decoding with specials kept.
/// </summary>
public sealed class BpeTokenizerFuzzTests : IDisposable
{
    const int Seed = 20251129;
    const int StringCount = 3000;

    readonly string _dir = Directory.CreateTempSubdirectory("minimind-tok-fuzz").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Encode_and_decode_should_match_hf_tokenizers_on_random_strings()
    {
        var ours = TokenizerFixtures.MiniMind;
        using var hf = new HfTokenizer(TokenizerFixtures.TokenizerJsonPath);
        using var hfPlain = new HfTokenizer(DerivedCopy("no_added.json", added => added.Clear()));
        using var hfKeep = new HfTokenizer(DerivedCopy("not_special.json", added =>
        {
            foreach (var t in added) t!["special"] = false;
        }));

        // Options MiniMind does not use but the loader accepts: checked against Rust on derived copies too.
        var prefixPath = DerivedCopy("prefix_space.json", _ => { }, pre => pre["add_prefix_space"] = true);
        var noRegexPath = DerivedCopy("no_regex.json", _ => { }, pre => pre["use_regex"] = false);
        var ignoreMergesPath = DerivedCopy("ignore_merges.json", _ => { }, model: m => m["ignore_merges"] = true);
        var oursIgnoreMerges = BpeTokenizer.FromFile(ignoreMergesPath);
        using var hfIgnoreMerges = new HfTokenizer(ignoreMergesPath);
        var oursPrefix = BpeTokenizer.FromFile(prefixPath);
        var oursNoRegex = BpeTokenizer.FromFile(noRegexPath);
        using var hfPrefix = new HfTokenizer(prefixPath);
        using var hfNoRegex = new HfTokenizer(noRegexPath);

        var rng = new Random(Seed);
        var failures = new List<string>();
        long chars = 0;
        for (var n = 0; n < StringCount; n++)
        {
            var text = RandomText(rng);
            chars += text.Length;
            // Rust strings cannot hold lone surrogates (the wrapper throws); ours reads one as U+FFFD.
            var rustText = ReplaceLoneSurrogates(text);
            var ids = ours.Encode(text);
            Check(failures, "ids", text, ids, ToInts(hf.Encode(rustText)));
            Check(failures, "ids_split_special", text, ours.Encode(text, splitSpecialTokens: true), ToInts(hfPlain.Encode(rustText)));
            var hfIds = ToUInts(ids);
            Check(failures, "decode_skip_special", text, ours.Decode(ids, skipSpecialTokens: true), hf.Decode(hfIds));
            Check(failures, "decode", text, ours.Decode(ids), hfKeep.Decode(hfIds));
            if (n % 3 != 0) continue; // options MiniMind does not use (add_prefix_space, use_regex false, ignore_merges): a third of the strings
            Check(failures, "ids_add_prefix_space", text, oursPrefix.Encode(text), ToInts(hfPrefix.Encode(rustText)));
            Check(failures, "ids_no_regex", text, oursNoRegex.Encode(text), ToInts(hfNoRegex.Encode(rustText)));
            Check(failures, "ids_ignore_merges", text, oursIgnoreMerges.Encode(text), ToInts(hfIgnoreMerges.Encode(rustText)));
        }

        // Arbitrary id sequences: byte soup that is often invalid UTF-8 (U+FFFD replacement must agree).
        for (var n = 0; n < StringCount; n++)
        {
            var ids = Enumerable.Range(0, rng.Next(1, 16)).Select(_ => rng.Next(0, ours.VocabSize)).ToArray();
            var label = string.Join(",", ids);
            Check(failures, "decode_random_ids", label, ours.Decode(ids, skipSpecialTokens: true), hf.Decode(ToUInts(ids)));
            Check(failures, "decode_random_ids_keep", label, ours.Decode(ids), hfKeep.Decode(ToUInts(ids)));
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"fuzz: {StringCount} strings ({chars} chars) x 4 checks (+3 option checks on every third) + {StringCount} id sequences x 2 checks, {failures.Count} mismatches");
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches, first ones:\n{string.Join("\n", failures.Take(10))}");
    }

    /// <summary>
    /// Every 97th Unicode scalar value (plus all of ASCII) in the README's 13 contexts
    /// (<c>x{c}'s {c}'s{c}1{c},{c} {c} a{c}  {c}\n{c}</c>): the code-point classes (letter, number, space,
    /// other) and the contraction and space-prefix rules around them. Contexts are joined by
    /// <c>&lt;|im_end|&gt;</c>, which isolates them (added tokens split the text before pre-tokenization),
    /// so 2000 go in one Encode call. The full sweep of all 1 112 064 scalars, run once by hand the same way,
    /// gave 0 differences (~45 s; too slow for every test run).
    /// </summary>
    [Fact]
    public void Code_point_classes_should_match_hf_tokenizers()
    {
        var ours = TokenizerFixtures.MiniMind;
        using var hf = new HfTokenizer(TokenizerFixtures.TokenizerJsonPath);
        var codePoints = Enumerable.Range(0, 0x110000).Where(c => Rune.IsValid(c) && (c < 0x80 || c % 97 == 0)).ToArray();
        var bad = new List<string>();
        foreach (var chunk in codePoints.Chunk(2000))
        {
            var text = string.Join("<|im_end|>", chunk.Select(Contexts));
            if (ours.Encode(text).SequenceEqual(ToInts(hf.Encode(text)))) continue;
            bad.AddRange(chunk.Where(c => !ours.Encode(Contexts(c)).SequenceEqual(ToInts(hf.Encode(Contexts(c))))).Select(c => $"U+{c:X4}"));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"code points: {codePoints.Length} checked, {bad.Count} differ");
        Assert.True(bad.Count == 0, $"{bad.Count} code points differ: {string.Join(" ", bad.Take(30))}");
    }

    static string Contexts(int codePoint)
    {
        var c = char.ConvertFromUtf32(codePoint);
        return $"x{c}'s {c}'s{c}1{c},{c} {c} a{c}  {c}\n{c}";
    }

    string DerivedCopy(string name, Action<JsonArray> editAdded, Action<JsonNode>? editPreTokenizer = null, Action<JsonNode>? model = null)
    {
        var root = JsonNode.Parse(File.ReadAllText(TokenizerFixtures.TokenizerJsonPath))!;
        editAdded(root["added_tokens"]!.AsArray());
        editPreTokenizer?.Invoke(root["pre_tokenizer"]!);
        model?.Invoke(root["model"]!);
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    static void Check<T>(List<string> failures, string what, string input, T ours, T theirs)
    {
        var same = ours is int[] a && theirs is int[] b ? a.SequenceEqual(b) : Equals(ours, theirs);
        if (!same) failures.Add($"{what}: input {Escape(input)}: ours {Show(ours)} hf {Show(theirs)}");
    }

    static string Show<T>(T value) => value is int[] ids ? $"[{string.Join(",", ids)}]" : Escape(value?.ToString() ?? "null");

    static string Escape(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var r in s.EnumerateRunes())
            sb.Append(r.Value is >= 0x20 and < 0x7F ? r.ToString() : $"\\u{{{r.Value:X}}}");
        return sb.Append('"').ToString();
    }

    static string ReplaceLoneSurrogates(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var r in s.EnumerateRunes()) sb.Append(r.ToString()); // EnumerateRunes yields U+FFFD for lone surrogates
        return sb.ToString();
    }

    static int[] ToInts(uint[] ids) => ids.Select(i => (int)i).ToArray();

    static uint[] ToUInts(int[] ids) => ids.Select(i => (uint)i).ToArray();

    // Whitespace kinds: \s per Oniguruma (the 22) and look-alikes that are not \s.
    static readonly int[] s_spaces =
    [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
        0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
        0x1C, 0x1D, 0x1E, 0x1F, 0x200B, 0x180E, 0xFEFF,
    ];

    static readonly string[] s_words =
    [
        "the", "Hello", "world", "MiniMind", "tokenizer", "don", "it", "we", "I", "a", "123", "4567", "3.14",
        "x_y", "foo()", "{\"k\": [1, 2]}", "=>", "...", "!!", "\"", "'", "''", "--", "https://example.com/a?b=c",
        "今天", "天气", "你好", "人工智能", "。", "，", "！", "？", "《三体》", "的", "ｆｕｌｌ", "é", "é", "ñ",
        "Ελληνικά", "русский", "עברית", "العربية", "हिन्दी", "ไทย", "한국어", "日本語", "カタカナ",
        "😀", "👨‍👩‍👧", "🇨🇳", "✔️", "❤️", "👍🏽", "𠀀", "𠀁𠀂", "𝐀𝐁", "𝟙𝟚", "𓀀", "𐍈",
        "<think>", "</think>", "<answer>", "</answer>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "<|im_start|", "<|IM_START|>", "<im_start>", "<|", "|>", "<|im_start|>assistant",
    ];

    static readonly string[] s_contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'x", "’s"];

    static string RandomText(Random rng)
    {
        var sb = new StringBuilder();
        var pieces = rng.Next(1, 14);
        for (var p = 0; p < pieces; p++)
        {
            switch (rng.Next(14))
            {
                case 0 or 1: sb.Append(s_words[rng.Next(s_words.Length)]); break;
                case 2: sb.Append(s_contractions[rng.Next(s_contractions.Length)]); break;
                case 3 or 4: AppendRune(sb, s_spaces[rng.Next(s_spaces.Length)], rng.Next(1, 4)); break;
                case 5: sb.Append(' '); break;
                case 6: for (var i = rng.Next(1, 8); i > 0; i--) sb.Append((char)rng.Next(0x20, 0x7F)); break;
                case 7: for (var i = rng.Next(1, 6); i > 0; i--) sb.Append((char)rng.Next(0x4E00, 0xA000)); break;
                case 8: AppendRune(sb, RandomScalar(rng, 0x10000), 1); break; // any BMP scalar
                case 9: AppendRune(sb, RandomScalar(rng, 0x110000), 1); break; // any scalar, astral mostly
                case 10: // astral letters / digits / emoji
                    int[] starts = [0x20000, 0x2A700, 0x30000, 0x1D400, 0x1D7CE, 0x1F300, 0x1F900, 0x13000, 0x10400];
                    AppendRune(sb, starts[rng.Next(starts.Length)] + rng.Next(0x80), rng.Next(1, 3));
                    break;
                case 11: // combining marks, controls, private use, format chars
                    int[] odd = [0x0301, 0x0308, 0x20DD, 0x00, 0x1B, 0x7F, 0xAD, 0x200D, 0xFE0F, 0xE000, 0x061C, 0xFFFD];
                    AppendRune(sb, odd[rng.Next(odd.Length)], 1);
                    break;
                case 12: // long runs: exercise the heap merge path (> 64 bytes in one word)
                    var unit = s_words[rng.Next(s_words.Length)];
                    for (var i = rng.Next(5, 40); i > 0; i--) sb.Append(unit);
                    break;
                default: // lone surrogate (UTF-8 conversion turns it into U+FFFD on both sides)
                    if (rng.Next(4) == 0) sb.Append((char)rng.Next(0xD800, 0xE000));
                    else sb.Append(rng.Next(10));
                    break;
            }
        }
        return sb.ToString();
    }

    static int RandomScalar(Random rng, int limit)
    {
        while (true)
        {
            var c = rng.Next(0, limit);
            if (Rune.IsValid(c)) return c;
        }
    }

    static void AppendRune(StringBuilder sb, int codePoint, int times)
    {
        var s = char.ConvertFromUtf32(codePoint);
        for (var i = 0; i < times; i++) sb.Append(s);
    }
}
