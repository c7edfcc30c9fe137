namespace MiniMind.Model.Checkpoints;

/// <summary>A checkpoint file that cannot be read: truncated, corrupt, an unsupported layout, or content this
/// reader refuses (for example a pickle that names a Python global outside the allowed set).
/// The message always names the file and what is wrong.</summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>The file that was being read or written.</summary>
    public string FilePath { get; }

    public CheckpointFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
    }
}
