using System.Globalization;

namespace MiniMind.Cli;

/// <summary>Parses token ids given on the command line: "1,2,3" (one row) or "1,2,3;4,5,6" (rows).</summary>
public static class TokenIds
{
    public static long[] ParseRow(string text, string option, int vocabSize)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ids = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new ArgumentException($"{option}: '{parts[i]}' (item {i + 1}) is not an integer token id");
            if (ids[i] < 0 || ids[i] >= vocabSize)
                throw new ArgumentException($"{option}: token id {ids[i]} (item {i + 1}) is outside the vocabulary [0, {vocabSize})");
        }
        if (ids.Length == 0) throw new ArgumentException($"{option}: no token ids given");
        return ids;
    }

    public static long[][] ParseRows(string text, string option, int vocabSize)
    {
        var rows = text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select((r, i) =>
            {
                try { return ParseRow(r, option, vocabSize); }
                catch (ArgumentException e) { throw new ArgumentException($"{e.Message} in row {i + 1}"); }
            })
            .ToArray();
        if (rows.Length == 0) throw new ArgumentException($"{option}: no token ids given");
        if (rows.Any(r => r.Length != rows[0].Length))
            throw new ArgumentException($"{option}: all rows must have the same length (got {string.Join(", ", rows.Select(r => r.Length))})");
        return rows;
    }
}
