using Akka.Actor;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>The coordinator's snapshot and checkpoint-request bookkeeping, pure: one snapshot per step whatever asks for
/// it, purposes merged; a new worker generation forgets what was asked of the old one; a journaled checkpoint answers the
/// waiters it satisfies.</summary>
public class SnapshotRequestsTests
{
    static SaveWaiter Waiter(string id, long minStep) => new(id, ActorRefs.Nobody, minStep);

    [Fact]
    public void A_snapshot_asked_for_twice_is_asked_of_worker_0_once_and_serves_both_purposes()
    {
        var (checkpoint, askCheckpoint) = SnapshotRequests.None.Request(5, checkpoint: true, join: false);
        var (both, askJoin) = checkpoint.Request(5, checkpoint: false, join: true);
        Assert.True(askCheckpoint);
        Assert.False(askJoin);
        var (delivered, purpose) = both.Delivered(5);
        Assert.Equal(new SnapshotPurpose(Checkpoint: true, Join: true), purpose);
        Assert.Empty(delivered.Asked);
        Assert.Null(delivered.Delivered(5).Purpose);   // delivered once: a second copy serves nothing
        Assert.Null(both.Delivered(6).Purpose);        // never asked
    }

    [Fact]
    public void A_new_generation_forgets_the_snapshots_asked_of_the_old_one_but_not_the_waiters()
    {
        var waiting = SnapshotRequests.None.Request(5, checkpoint: true, join: false).Requests.Wait(Waiter("a", 5), afterStep: true);
        var next = waiting.NewGeneration();
        Assert.Empty(next.Asked);
        Assert.Null(next.Delivered(5).Purpose);
        Assert.Single(next.Waiters);
        Assert.True(next.CheckpointAfterStep);
        Assert.True(next.Request(5, checkpoint: true, join: false).Ask);   // the new generation is asked again
    }

    [Fact]
    public void A_journaled_checkpoint_answers_the_waiters_up_to_its_step_newest_first_and_keeps_the_later_ones()
    {
        var requests = SnapshotRequests.None.Wait(Waiter("a", 4), afterStep: false).Wait(Waiter("b", 5), afterStep: false).Wait(Waiter("c", 7), afterStep: false);
        Assert.False(requests.CheckpointAfterStep);
        var (left, answered) = requests.Saved(5);
        Assert.Equal(["b", "a"], answered.Select(w => w.RequestId));
        Assert.Equal(["c"], left.Waiters.Select(w => w.RequestId));
        Assert.Empty(left.Saved(6).Answered);
    }
}
