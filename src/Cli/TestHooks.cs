using System.Globalization;
using MiniMind.Actors;
using MiniMind.Cluster.Nodes;

namespace MiniMind.Cli;

/// <summary>Test hooks of a child <c>minimind</c> process, read here and nowhere else. In-process tests inject faults
/// through <see cref="NodeTestHooks"/> (the node's hosting); process tests (kill/resume, cluster nodes) have no other way
/// into a child process than its environment. Unset, each is off:
/// <list type="bullet">
/// <item><c>MINIMIND_TEST_FAULT_STEPS</c>: comma-separated steps at which the worker throws (an injected fault).</item>
/// <item><c>MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS</c>: a pause in the middle of every checkpoint file write.</item>
/// <item><c>MINIMIND_TEST_COMPUTE_DELAY_MS</c>: a delay before each micro-batch a worker computes (a worker node's, or the coordinator's own replica in <c>train</c>).</item>
/// <item><c>MINIMIND_TEST_LOSS_SPIKE_STEPS</c>: comma-separated steps whose reported loss is multiplied by 100 (a loss
/// spike for the alert tests; the gradient is untouched).</item>
/// <item><c>MINIMIND_TEST_FREE_BYTES</c>: the free space every checkpoint write sees (a full disk where no small
/// filesystem can be mounted, i.e. when the tests do not run as root).</item>
/// </list></summary>
static class TestHooks
{
    public static NodeTestHooks FromEnvironment()
    {
        if (long.TryParse(Environment.GetEnvironmentVariable("MINIMIND_TEST_FREE_BYTES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var free))
            MiniMind.Actors.Checkpoints.DiskSpace.Available = _ => free;
        return Hooks();
    }

    static NodeTestHooks Hooks()
    {
        var computeDelay = TimeSpan.FromMilliseconds(Int("MINIMIND_TEST_COMPUTE_DELAY_MS"));
        return new()
        {
            Faults = new FaultPlan(Longs("MINIMIND_TEST_FAULT_STEPS"))
            {
                LossSpikeSteps = Longs("MINIMIND_TEST_LOSS_SPIKE_STEPS").ToHashSet(),
                ComputeDelay = computeDelay,   // the coordinator's own replica (`train`, a one-device seed)
            },
            CheckpointWriteDelay = TimeSpan.FromMilliseconds(Int("MINIMIND_TEST_CHECKPOINT_WRITE_DELAY_MS")),
            ComputeDelay = computeDelay,       // a worker node's replicas
        };
    }

    static int Int(string name) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;

    static long[] Longs(string name) =>
        (Environment.GetEnvironmentVariable(name) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
}
