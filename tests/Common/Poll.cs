using System.Diagnostics;

namespace MiniMind.Tests.Common;

/// <summary>Waiting for something another thread or process does: check, sleep, fail with what was awaited.</summary>
public static class Poll
{
    public static async Task Until(Func<bool> condition, TimeSpan timeout, string what, int intervalMs = 50)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(intervalMs);
        }
    }

    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string what, int intervalMs = 100)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(intervalMs);
        }
    }
}
