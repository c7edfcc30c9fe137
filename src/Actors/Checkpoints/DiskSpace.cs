namespace MiniMind.Actors.Checkpoints;

/// <summary>Free space on the filesystem that holds a directory, and what a full disk looks like as an exception.</summary>
public static class DiskSpace
{
    /// <summary>Bytes available to this process on the filesystem of <c>directory</c> (statvfs). A process-wide test
    /// hook may replace it (<c>MINIMIND_TEST_FREE_BYTES</c>, set by the CLI's TestHooks) to fake a full disk where no
    /// small filesystem can be mounted.</summary>
    public static Func<string, long> Available { get; set; } = Probe;

    static long Probe(string directory)
    {
        var d = Path.GetFullPath(directory);
        while (!Directory.Exists(d) && Path.GetDirectoryName(d) is { } parent) d = parent;
        return new DriveInfo(d).AvailableFreeSpace;
    }

    /// <summary>ENOSPC (28) or EDQUOT (122): the write failed for want of space, not because the file is bad.</summary>
    public static bool IsFull(Exception e) =>
        e is IOException io && (io.HResult is 28 or 122 || (io.HResult & 0xFFFF) is 0x70 or 0x27 ||
                                io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) ||
                                io.Message.Contains("quota exceeded", StringComparison.OrdinalIgnoreCase));

    /// <summary>Bytes as whole MB, rounded up (a need is never shown smaller than it is).</summary>
    public static long Mb(long bytes) => (bytes + (1 << 20) - 1) >> 20;
}
