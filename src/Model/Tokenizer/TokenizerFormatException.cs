namespace MiniMind.Model.Tokenizer;

/// <summary>A tokenizer.json that cannot be loaded: the message names the file and the JSON field.</summary>
public sealed class TokenizerFormatException : FormatException
{
    public TokenizerFormatException() { }

    public TokenizerFormatException(string message) : base(message) { }

    public TokenizerFormatException(string message, Exception inner) : base(message, inner) { }

    internal TokenizerFormatException(string source, string field, string problem, Exception? inner = null)
        : base($"{source}: {field}: {problem}", inner)
    {
        FilePath = source;
        Field = field;
    }

    /// <summary>The file (or source name given to <see cref="BpeTokenizer.FromJson"/>) that was being read.</summary>
    public string? FilePath { get; }

    /// <summary>The JSON path of the offending field, e.g. <c>model.merges[12]</c>.</summary>
    public string? Field { get; }
}
