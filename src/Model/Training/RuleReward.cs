using System.Globalization;
using System.Text;

namespace MiniMind.Model;

/// <summary>
/// The rule-based part of MiniMind's reward (trainer/train_grpo.py calculate_rewards, d65ef2c), exact to its float32
/// arithmetic: +0.5 when the stripped response has 20–800 characters, else −0.5; if it contains <c>&lt;/think&gt;</c>,
/// +1.0 when the thinking part (before the first one, stripped) has 20–300 characters, else −0.5, and +0.25 when there
/// is exactly one <c>&lt;/think&gt;</c>, else −0.25, and the answer becomes what follows it (stripped); finally minus
/// <see cref="RepPenalty"/> of the answer. MiniMind adds a reward model's score on top (our <c>--reward-url</c>).
/// Lengths count Unicode code points, as Python's len does.
/// </summary>
public static class RuleReward
{
    const string ThinkEnd = "</think>";

    /// <summary>The rule reward of <paramref name="response"/> (the decoded completion, special tokens skipped).</summary>
    public static float Score(string response)
    {
        var reward = 0f;                                                  // MiniMind: a float32 tensor, += Python floats
        reward += InRange(Length(response.Trim()), 20, 800) ? 0.5f : -0.5f;
        var answer = response;
        var at = response.IndexOf(ThinkEnd, StringComparison.Ordinal);
        if (at >= 0)
        {
            var thinking = response[..at];
            reward += InRange(Length(thinking.Trim()), 20, 300) ? 1.0f : -0.5f;
            reward += Count(response, ThinkEnd) == 1 ? 0.25f : -0.25f;
            answer = response[(at + ThinkEnd.Length)..].Trim();
        }
        reward -= (float)RepPenalty(answer);
        return reward;
    }

    /// <summary>MiniMind's rep_penalty(text, n=3, cap=0.5): the text lower-cased and split into words (<c>\w+</c>) and
    /// single non-space symbols (<c>[^\w\s]</c>), then min(cap, duplicate n-grams · cap · 2 / n-grams); 0 without n-grams.
    /// <c>\w</c> is Python's for str: a letter or number (Unicode L*, N*) or '_'.</summary>
    public static double RepPenalty(string text, int n = 3, double cap = 0.5)
    {
        var tokens = Tokens(text.ToLowerInvariant());
        var count = tokens.Count - n + 1;
        if (count <= 0) return 0.0;
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++) distinct.Add(string.Join('\u0000', tokens.GetRange(i, n)));
        return Math.Min(cap, (count - distinct.Count) * cap * 2 / count);
    }

    static List<string> Tokens(string text)
    {
        var tokens = new List<string>();
        var word = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsWord(rune)) { word.Append(rune.ToString()); continue; }
            if (word.Length > 0) { tokens.Add(word.ToString()); word.Clear(); }
            if (!IsSpace(rune)) tokens.Add(rune.ToString());
        }
        if (word.Length > 0) tokens.Add(word.ToString());
        return tokens;
    }

    static bool IsWord(Rune r) => r.Value == '_' || Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
            or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
        _ => false,
    };

    static bool IsSpace(Rune r) => Rune.IsWhiteSpace(r);

    static int Length(string s)
    {
        var n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    static bool InRange(int length, int min, int max) => length >= min && length <= max;

    static int Count(string s, string what)
    {
        var n = 0;
        for (var i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
