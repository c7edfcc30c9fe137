using Xunit;

namespace MiniMind.Cluster.Tests;

public class RunDirLockTests
{
    [Fact]
    public void A_held_run_dir_lock_refuses_a_second_holder_naming_the_run_dir_and_pid_until_released()
    {
        var dir = TestRuns.TempRunDir("lock-unit");
        using (var held = RunDirLock.Acquire(dir))
        {
            Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(Path.Combine(dir, RunDirLock.PidFileName)));
            var e = Assert.Throws<RunDirLockedException>(() => RunDirLock.Acquire(dir));
            Assert.Equal(Environment.ProcessId, e.HolderPid);
            Assert.Contains($"run dir {dir} is in use", e.Message, StringComparison.Ordinal);
            Assert.Contains($"pid {Environment.ProcessId}", e.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<IOException>(e);   // the CLI maps it to exit code 4 (output not writable)
        }
        using (RunDirLock.Acquire(dir)) { }   // released on dispose
        Directory.Delete(dir, true);
    }
}
