using Xunit;

namespace MiniMind.Cli.Tests;

/// <summary>A worker fault that supervision handles (restart, reload, redo) is logged in single lines naming the cause,
/// with no stack trace: before, Akka's supervision log printed the exception, and a libtorch fault's message carries
/// its C++ backtrace (~100 lines). The stack trace is shown only with MINIMIND_DEBUG=1.</summary>
public class FaultLogTests
{
    static ChildProcess.Result TrainWithFaultAtStep3(bool debug)
    {
        var runDir = TempDir.Create();
        try
        {
            return ChildProcess.Run(Path.Combine(RepoPaths.CliBin, "minimind"),
                ["train", "pretrain", "--preset", "tiny", "--run-dir", runDir, "--max-steps", "4", "--batch-size", "2", "--max-seq-len", "16", "--threads", "1",
                 "--data", RepoPaths.Dataset("pretrain.jsonl"), "--tokenizer", RepoPaths.Tokenizer],
                TimeSpan.FromMinutes(3), configure: psi =>
                {
                    psi.Environment["MINIMIND_TEST_FAULT_STEPS"] = "3";
                    if (debug) psi.Environment["MINIMIND_DEBUG"] = "1";
                    else psi.Environment.Remove("MINIMIND_DEBUG");
                });
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    [Fact]
    public void A_worker_fault_is_logged_in_one_line_with_its_cause_and_no_stack_trace()
    {
        var r = TrainWithFaultAtStep3(debug: false);
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains("worker-0 failed (InjectedFaultException: injected fault at step 3); restarting it", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.StartsWith("Cause:", StringComparison.Ordinal));
        Assert.True(lines.Length <= 6, $"{lines.Length} stderr lines:\n{r.Error}");
    }

    [Fact]
    public void With_MINIMIND_DEBUG_the_stack_trace_is_logged()
    {
        var r = TrainWithFaultAtStep3(debug: true);
        Assert.True(r.ExitCode == 0, r.Out + r.Error);
        Assert.Contains("at MiniMind.Actors.GpuWorker", r.Error, StringComparison.Ordinal);
    }
}
