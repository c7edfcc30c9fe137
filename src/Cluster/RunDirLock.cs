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
/// the process dies, so a SIGKILLed holder leaves no stale lock. The holder writes its pid to <c>run.pid</c> next to it,
/// for the error message (.NET takes a shared flock on every open, so the locked file itself cannot be read by others).</summary>
public sealed class RunDirLock : IDisposable
{
    public const string FileName = "run.lock";
    public const string PidFileName = "run.pid";

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
        try
        {
            File.WriteAllText(PidFile(path), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new RunDirLock(stream, path);
    }

    /// <summary>The pid the holder wrote (it may not have written it yet right after taking the lock: retried briefly).</summary>
    static int? ReadHolder(string path)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                // A pid of a dead process is a previous holder's (SIGKILLed): the new holder has not written its own yet.
                if (int.TryParse(File.ReadAllText(PidFile(path)).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                    && (!OperatingSystem.IsLinux() || Directory.Exists($"/proc/{pid}")))
                    return pid;
            }
            catch (IOException) { }
            Thread.Sleep(50);
        }
        return null;
    }

    static string PidFile(string lockFile) => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(lockFile)!, PidFileName);

    public void Dispose() => stream.Dispose();
}
