using System.Text.Json;
using MiniMind.Model.Tests.Fixtures;
using MiniMind.Model.Tokenizer;

namespace MiniMind.Model.Tests.Tokenizer;

/// <summary>MiniMind's tokenizer.json and the jsonl reference files in ../shared/fixtures/tokenizer.</summary>
public static class TokenizerFixtures
{
    static readonly Lazy<BpeTokenizer> s_tokenizer = new(() => BpeTokenizer.FromFile(TokenizerJsonPath));

    public static string TokenizerJsonPath => Path.Combine(RepoPaths.TokenizerFixtures, "minimind", "tokenizer.json");

    /// <summary>One shared instance (it is thread-safe), loaded once per test run.</summary>
    public static BpeTokenizer MiniMind => s_tokenizer.Value;

    /// <summary>Every record of a .jsonl fixture file, parsed.</summary>
    public static IReadOnlyList<JsonElement> ReadJsonl(string fileName)
    {
        var path = Path.Combine(RepoPaths.TokenizerFixtures, fileName);
        return File.ReadLines(path)
            .Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToArray();
    }

    public static int[] Ints(this JsonElement e, string name) =>
        e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;
}
