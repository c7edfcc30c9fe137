using System.Globalization;

namespace MiniMind.Cluster;

/// <summary>Another process holds the run dir: its message names the run dir, the holder's pid and the lock file.</summary>
public sealed class RunDirLockedException(string runDir, int? holderPid, string lockFile, Exception inner)
    : IOException($"run dir {Path.GetFullPath(runDir)} is in use by another training process ({(holderPid is { } p ? $"pid {p}" : "pid unknown")}; " +
                  $"lock file {lockFile}). Wait for it to finish or stop it{(holderPid is { } q ? $" (kill -INT {q})" : "")}, or use another --run-dir.", inner)
{
    public string RunDir { get; } = runDir;
    public int? HolderPid { get; } = holderPid;
}

/// <summary>One training process per run dir: an exclusive OS lock on <c>&lt;run-dir&gt;/run.lock</c> (flock on Linux,
/// what <see cref="FileShare.None"/> takes), held until <see cref="Dispose"/> or process exit. The kernel releases it when
/// the process dies, so a SIGKILLed holder leaves no stale lock. The file holds the holder's pid, for the error message.</summary>
public sealed class RunDirLock : IDisposable
{
    public const string FileName = "run.lock";

    readonly FileStream stream;

    RunDirLock(FileStream stream, string path) => (this.stream, Path) = (stream, path);

    public string Path { get; }

    /// <summary>Takes the lock or throws <see cref="RunDirLockedException"/> at once (no waiting).</summary>
    public static RunDirLock Acquire(string runDir)
    {
        Directory.CreateDirectory(runDir);
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(runDir, FileName));
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw new RunDirLockedException(runDir, ReadHolder(path), path, e);
        }
        stream.SetLength(0);
        var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        stream.Write(pid);
        stream.Flush(flushToDisk: true);
        return new RunDirLock(stream, path);
    }

    /// <summary>The pid the holder wrote (it may not have written it yet right after taking the lock: retried briefly).</summary>
    static int? ReadHolder(string path)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                // Read without asking for a lock of our own (a shared flock would fail while the holder has it exclusively).
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var buffer = new byte[32];
                var n = RandomAccess.Read(handle, buffer, 0);
                if (int.TryParse(System.Text.Encoding.ASCII.GetString(buffer, 0, n).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
                    return pid;
            }
            catch (IOException) { }
            Thread.Sleep(50);
        }
        return null;
    }

    public void Dispose() => stream.Dispose();
}
