namespace MiniMind.Tests.Common;

/// <summary>A fresh directory under the system temp folder, deleted (best effort) when disposed.</summary>
public sealed class TempDir(string prefix = "minimind-test-") : IDisposable
{
    public string Path { get; } = Create(prefix);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="content"/> to <paramref name="name"/> in the directory and returns its path.</summary>
    public string Write(string name, string content)
    {
        System.IO.File.WriteAllText(File(name), content);
        return File(name);
    }

    public string Write(string name, byte[] content)
    {
        System.IO.File.WriteAllBytes(File(name), content);
        return File(name);
    }

    /// <summary>A fresh directory that nobody deletes (process-wide fixtures, run dirs kept for a failure's post-mortem).</summary>
    public static string Create(string prefix = "minimind-test-") => Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
