namespace MiniMind.Model.Data.Shards;

/// <summary>A JSONL input line that cannot become a sample: the message starts with <c>file:line:</c>.</summary>
public sealed class DataFormatException : FormatException
{
    public DataFormatException(string filePath, long line, string reason, Exception? inner = null)
        : base($"{filePath}:{line}: {reason}", inner)
    {
        FilePath = filePath;
        Line = line;
        Reason = reason;
    }

    /// <summary>The input file.</summary>
    public string FilePath { get; }

    /// <summary>1-based line number (0 when the problem is the whole file, e.g. it is empty).</summary>
    public long Line { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }
}
