using Xunit;
using static MiniMind.Actors.DataLoader;

namespace MiniMind.Actors.Tests;

/// <summary>The coordinator's batch pipeline, without an ActorSystem.</summary>
public class StepBufferTests
{
    static StepBatches Batches(long step, int rows = 2, int seqLen = 3) =>
        new(step, [new MicroBatch(rows, seqLen, new int[rows * seqLen], new int[rows * seqLen], new float[rows * seqLen], new long[rows])]);

    [Fact]
    public void Prefetch_asks_for_the_next_step_and_the_one_after_once()
    {
        var (buffer, fetch) = StepBuffer.Empty.Prefetch(next: 4, total: 10);
        Assert.Equal([4L, 5L], fetch);
        var (again, none) = buffer.Prefetch(4, 10);
        Assert.Empty(none);
        Assert.Equal(buffer.Requested, again.Requested);
        Assert.Equal([6L], again.Received(Batches(4)).Received(Batches(5)).Prefetch(5, 10).Fetch);
    }

    [Fact]
    public void Prefetch_stops_at_the_last_step_and_skips_delivered_batches()
    {
        Assert.Equal([9L], StepBuffer.Empty.Prefetch(9, 10).Fetch);
        Assert.Empty(StepBuffer.Empty.Prefetch(10, 10).Fetch);
        Assert.Equal([1L], StepBuffer.Empty.Received(Batches(0)).Prefetch(0, 10).Fetch);
    }

    [Fact]
    public void A_committed_step_leaves_the_buffer_and_may_be_asked_for_again()
    {
        var (buffer, _) = StepBuffer.Empty.Prefetch(0, 10);
        var b0 = Batches(0);
        buffer = buffer.Received(b0).Received(Batches(1));
        Assert.Same(b0, buffer.For(0));
        buffer = buffer.Started(b0);
        Assert.Same(b0, buffer.InFlight);
        var done = buffer.Done(0);
        Assert.Null(done.InFlight);
        Assert.Null(done.For(0));
        Assert.NotNull(done.For(1));
        Assert.DoesNotContain(0L, done.Requested);
        Assert.Equal([0L], done.Prefetch(0, 10).Fetch);
    }

    [Fact]
    public void Bytes_held_counts_inputs_masks_and_sample_indices_of_every_buffered_step()
    {
        // 2×3 positions: 6 inputs · 8 + 6 mask · 4 + 2 samples · 8 = 88 bytes per step
        Assert.Equal(0, StepBuffer.Empty.BytesHeld);
        Assert.Equal(88, StepBuffer.Empty.Received(Batches(0)).BytesHeld);
        Assert.Equal(176, StepBuffer.Empty.Received(Batches(0)).Received(Batches(1)).BytesHeld);
        Assert.Equal(88, StepBuffer.Empty.Received(Batches(0)).Received(Batches(1)).Done(0).BytesHeld);
    }
}
