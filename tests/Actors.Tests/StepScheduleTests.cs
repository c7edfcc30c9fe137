using Akka.Actor;
using Xunit;

namespace MiniMind.Actors.Tests;

/// <summary>Scheduling (slots, assignment, join, leave, reassignment) without an ActorSystem.</summary>
public class StepScheduleTests
{
    /// <summary>An actor reference with a path and nothing behind it.</summary>
    sealed class Ref(string name) : MinimalActorRef
    {
        public override ActorPath Path { get; } = new RootActorPath(new Address("akka", "test")) / "user" / name;
        public override IActorRefProvider Provider => throw new NotSupportedException();
    }

    static readonly IActorRef Local = new Ref("worker-0"), A = new Ref("a"), B = new Ref("b");

    static StepSchedule WithReady(StepSchedule s, IActorRef worker, string node, string device, long step = 0) =>
        s.Joined(worker, node, device)!.StartJoin(step).Ready(worker)!.Value.State;

    [Fact]
    public void A_worker_joins_at_a_step_boundary_and_computes_only_once_ready()
    {
        var s = StepSchedule.Empty.Joined(A, "node-a", "cpu")!;
        Assert.Null(s.Joined(A, "node-a", "cpu"));                                    // known already
        Assert.True(s.AnyPending);
        Assert.Empty(s.Followers);
        Assert.Equal([Local], s.Slots(Local, localCompute: true));
        Assert.Null(s.Ready(A));                                                      // not joining yet

        s = s.StartJoin(7);
        Assert.False(s.AnyPending);
        Assert.Equal([A], s.JoinersAt(7));
        Assert.Empty(s.JoinersAt(8));
        Assert.Equal([A], s.Followers);                                              // follows the reduced gradients from step 7
        Assert.Equal([Local], s.Slots(Local, true));                                  // but does not compute yet

        var (ready, replica) = s.Ready(A)!.Value;
        Assert.Equal(7, replica.JoinStep);
        Assert.Equal([Local, A], ready.Slots(Local, true));
        Assert.Equal([A], ready.Slots(Local, false));
    }

    [Fact]
    public void Nodes_with_more_devices_come_first_and_get_neighbouring_micro_batches()
    {
        var s = WithReady(WithReady(StepSchedule.Empty, A, "node-a", "cpu"), B, "node-b", "cuda:0,cuda:1");
        var slots = s.Slots(Local, true);
        Assert.Equal([B, B, Local, A], slots);
        var (next, assignments) = s.NewStep().Assign([0, 1, 2, 3, 4, 5, 6, 7], slots, Local);
        Assert.Equal([0, 1, 4, 5], assignments.Where(x => x.Target.Equals(B)).Select(x => x.Micro));
        Assert.All(assignments, x => Assert.Equal(assignments.Where(y => y.Target.Equals(x.Target)).Select(y => y.Micro), x.Group));
        Assert.Equal(4, next.ComputedBy["node-b"]);
        Assert.Equal(2, next.ComputedBy[StepSchedule.Local]);
        Assert.True(next.Distributed);
        Assert.False(StepSchedule.Empty.Assign([0, 1], [Local], Local).State.Distributed);
    }

    [Fact]
    public void A_lost_worker_leaves_its_micro_batches_of_the_step_in_flight_to_the_others()
    {
        var s = WithReady(StepSchedule.Empty, A, "node-a", "cpu");
        (s, _) = s.NewStep().Assign([0, 1, 2, 3], s.Slots(Local, true), Local);       // Local 0, 2; A 1, 3
        var (left, gone, orphans) = s.Left(A)!.Value;
        Assert.Equal("node-a", gone.Node);
        Assert.Equal([1, 3], orphans);
        Assert.Null(left.Left(A));                                                    // already gone
        Assert.Equal([Local], left.Slots(Local, true));
        var (after, reassigned) = left.Assign(orphans, left.Slots(Local, true), Local);
        Assert.All(after.Assigned.Values, t => Assert.Equal(Local, t));
        Assert.Equal([1, 3], reassigned.Select(r => r.Micro));
    }

    [Fact]
    public void A_reload_makes_every_replica_join_again()
    {
        var s = WithReady(StepSchedule.Empty, A, "node-a", "cpu");
        (s, _) = s.Assign([0, 1], s.Slots(Local, true), Local);
        var reset = s.Reset();
        Assert.True(reset.AnyPending);
        Assert.Empty(reset.Assigned);
        Assert.Empty(reset.Followers);
        Assert.Equal([Local], reset.Slots(Local, true));
    }

    [Fact]
    public void The_aggregators_reports_add_up_and_survive_a_reset()
    {
        var s = StepSchedule.Empty.Reduced(4, 3, 1).Reduced(4, 4, 0);
        Assert.Equal((8L, 7L, 1L), s.Received);
        Assert.Equal((8L, 7L, 1L), s.Reset().NewStep().Received);
    }
}
