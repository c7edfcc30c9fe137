using System.Diagnostics;
using Akka.Actor;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Transport;

/// <summary>Two <see cref="BulkChannel"/>s in one process (ephemeral loopback ports), receivers are Akka inboxes.</summary>
public sealed class BulkChannelTests : IAsyncLifetime
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    readonly ActorSystem _system = ActorSystem.Create("bulk-channel-tests");
    readonly List<BulkChannel> _channels = [];

    BulkChannel Channel(BulkChannelOptions? options = null)
    {
        var c = BulkChannel.Start(options ?? new BulkChannelOptions());
        _channels.Add(c);
        return c;
    }

    Inbox NewInbox() => Inbox.Create(_system);

    static float[] RandomFloats(int n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    static async Task<T> Next<T>(Inbox inbox) where T : class
    {
        var m = await inbox.ReceiveAsync(Wait);
        return m as T ?? throw new Xunit.Sdk.XunitException($"expected {typeof(T).Name}, got {m}");
    }

    static async Task ExpectNothing(Inbox inbox, TimeSpan within)
    {
        try
        {
            var m = await inbox.ReceiveAsync(within);
            Assert.Fail($"expected no message, got {m}");
        }
        catch (TimeoutException) { }
    }

    [Fact]
    public async Task Bulk_channel_should_deliver_a_float_gradient_to_the_subscribed_actor_and_complete_the_send()
    {
        var receiver = Channel();
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        var gradient = RandomFloats(3_000_001, 1);   // 12 MB: several 1 MiB frames and a short last one
        var id = Guid.NewGuid();

        var result = await sender.SendAsync(receiver.Endpoint, new BulkHeader(id, "gradient", [7, 8, 9]), gradient, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(id, result.TransferId);
        Assert.Equal(gradient.Length * 4L, result.Bytes);
        var got = await Next<BulkTransferReceived>(inbox);
        Assert.Equal(id, got.TransferId);
        Assert.Equal("gradient", got.Topic);
        Assert.Equal([7, 8, 9], got.Metadata);
        Assert.Equal(sender.Endpoint, got.From);
        Assert.Equal(BulkPayloadKind.Float32, got.Payload.Kind);
        Assert.True(gradient.AsSpan().SequenceEqual(got.Payload.AsFloats()), "received floats differ from the sent ones");
    }

    [Fact]
    public async Task Bulk_channel_should_route_an_expected_transfer_id_before_the_topic_subscriber_and_carry_bytes_and_empty_payloads()
    {
        var receiver = Channel();
        var sender = Channel();
        var subscriber = NewInbox();
        var expecting = NewInbox();
        receiver.Subscribe("weights", subscriber.Receiver);
        var id = Guid.NewGuid();
        receiver.Expect(id, expecting.Receiver);
        var bytes = new byte[5_000_000];
        new Random(2).NextBytes(bytes);
        var ct = TestContext.Current.CancellationToken;

        await sender.SendAsync(receiver.Endpoint, new BulkHeader(id, "weights"), bytes, cancellationToken: ct);
        await sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "weights"), ReadOnlyMemory<byte>.Empty, cancellationToken: ct);

        var expected = await Next<BulkTransferReceived>(expecting);
        Assert.Equal(id, expected.TransferId);
        Assert.Equal(bytes, expected.Payload.AsBytes());
        var empty = await Next<BulkTransferReceived>(subscriber);
        Assert.Equal(0, empty.Payload.ByteLength);
        Assert.False(receiver.CancelExpect(id), "an Expect is used once");
    }

    [Fact]
    public async Task Bulk_channel_should_carry_concurrent_transfers_to_one_peer_intact()
    {
        var receiver = Channel();
        var sender = Channel(new BulkChannelOptions { FrameBytes = 64 * 1024 });   // small frames: the transfers interleave
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        var payloads = Enumerable.Range(0, 6).ToDictionary(_ => Guid.NewGuid(), i => RandomFloats(500_000 + i * 1000, 10 + i));

        await Task.WhenAll(payloads.Select(p => Task.Run(() =>
            sender.SendAsync(receiver.Endpoint, new BulkHeader(p.Key, "gradient"), p.Value, cancellationToken: TestContext.Current.CancellationToken))));

        var count = payloads.Count;
        for (var i = 0; i < count; i++)
        {
            var got = await Next<BulkTransferReceived>(inbox);
            Assert.True(payloads.Remove(got.TransferId, out var sent), $"unexpected or duplicate transfer {got.TransferId}");
            Assert.True(sent.AsSpan().SequenceEqual(got.Payload.AsFloats()), $"transfer {got.TransferId} arrived altered");
        }
        Assert.Empty(payloads);
    }

    [Fact]
    public async Task Send_should_fail_with_a_clear_error_when_no_actor_takes_the_topic_or_the_payload_is_too_big_and_the_connection_stays_usable()
    {
        var receiver = Channel(new BulkChannelOptions { MaxPayloadBytes = 1_000_000 });
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        var ct = TestContext.Current.CancellationToken;

        var noTopic = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "nobody"), new byte[10], cancellationToken: ct));
        Assert.Contains("topic 'nobody'", noTopic.Message);
        var tooBig = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), new float[3_000_000], cancellationToken: ct));
        Assert.Contains("exceeds the limit of 1000000 bytes", tooBig.Message);
        Assert.Contains(receiver.Endpoint.ToString(), tooBig.Message);
        var refused = await Next<BulkTransferFailed>(inbox);
        Assert.Contains("exceeds the limit", refused.Reason);

        var ok = new float[1000];
        ok[999] = 42;
        await sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), ok, cancellationToken: ct);
        Assert.Equal(42, (await Next<BulkTransferReceived>(inbox)).Payload.AsFloats()[999]);
    }

    [Fact]
    public async Task Send_should_fault_promptly_when_the_receiver_dies_mid_transfer()
    {
        var receiver = Channel(new BulkChannelOptions { IoTimeout = TimeSpan.FromMinutes(2) });
        var sender = Channel(new BulkChannelOptions { IoTimeout = TimeSpan.FromMinutes(2) });   // promptness must not come from a timeout
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        var payload = new byte[128 << 20];
        var clock = new Stopwatch();

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), payload,
            progress: sent =>
            {
                // 48 MB sent: at most the two 4 MB socket buffers (the kernel doubles each) are in flight, so the receiver has
                // read the Begin frame and ≥ 32 MB. At 8 MB, a loaded machine's receiver thread had sometimes not read the
                // Begin yet: disposing it then drops buffered bytes of a transfer it never saw, and it reports nothing.
                if (sent < 48 << 20 || clock.IsRunning) return;
                clock.Start();
                receiver.DisposeAsync().AsTask().Wait();   // the receiving node goes away with ~80 MB still to send
            }, cancellationToken: TestContext.Current.CancellationToken));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the send took {clock.Elapsed} to fail after the receiver died");
        Assert.Contains(receiver.Endpoint.ToString(), e.Message);
        Assert.Contains("failed after", e.Message);
        var dropped = await Next<BulkTransferFailed>(inbox);
        Assert.InRange(dropped.BytesReceived, 1, payload.Length - 1);
    }

    [Fact]
    public async Task Receiver_should_drop_and_report_a_partial_transfer_when_the_sender_goes_away()
    {
        var receiver = Channel();
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("weights", inbox.Receiver);
        var id = Guid.NewGuid();
        var ct = TestContext.Current.CancellationToken;

        var send = sender.SendAsync(receiver.Endpoint, new BulkHeader(id, "weights"), new byte[64 << 20],
            progress: sent => { if (sent == 4 << 20) sender.DisposeAsync().AsTask().Wait(); }, cancellationToken: ct);

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => send);
        Assert.Contains("bulk channel disposed", e.Message);
        var failed = await Next<BulkTransferFailed>(inbox);
        Assert.Equal(id, failed.TransferId);
        Assert.Equal(sender.Endpoint, failed.From);
        Assert.Equal(64L << 20, failed.TotalBytes);
        Assert.InRange(failed.BytesReceived, 0, (64L << 20) - 1);
        Assert.Contains($"connection from {sender.Endpoint}", failed.Reason);
        Assert.Contains("mid-transfer", failed.Reason);
        await ExpectNothing(inbox, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Cancelling_a_send_should_tell_the_receiver_to_drop_the_transfer()
    {
        var receiver = Channel();
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("weights", inbox.Receiver);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "weights"), new byte[32 << 20],
            progress: sent => { if (sent == 2 << 20) cts.Cancel(); }, cancellationToken: cts.Token));

        var failed = await Next<BulkTransferFailed>(inbox);
        Assert.Equal("sender aborted: cancelled by the sender", failed.Reason);
        Assert.Equal(2L << 20, failed.BytesReceived);
        // the connection survives: the next transfer goes through
        await sender.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "weights"), new byte[100], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(100, (await Next<BulkTransferReceived>(inbox)).Payload.ByteLength);
    }

    [Fact]
    public async Task A_corrupted_frame_should_fail_the_transfer_on_both_sides_and_never_deliver_bad_data()
    {
        var receiver = Channel();
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        await using var relay = new TcpRelay(receiver.Endpoint.Port, corruptAt: 300_000);   // inside the first data frame
        var viaRelay = new BulkEndpoint("127.0.0.1", relay.Port);
        var gradient = RandomFloats(2_000_000, 3);
        var ct = TestContext.Current.CancellationToken;

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(viaRelay, new BulkHeader(Guid.NewGuid(), "gradient"), gradient, cancellationToken: ct));

        Assert.Contains("checksum mismatch", e.Message);
        var failed = await Next<BulkTransferFailed>(inbox);
        Assert.Contains("checksum mismatch in the frame at bytes 0..1048576", failed.Reason);
        // framing is intact, so the same connection carries the next transfer (past the corrupted offset) correctly
        await sender.SendAsync(viaRelay, new BulkHeader(Guid.NewGuid(), "gradient"), gradient, cancellationToken: ct);
        var got = await Next<BulkTransferReceived>(inbox);
        Assert.True(gradient.AsSpan().SequenceEqual(got.Payload.AsFloats()));
    }

    [Fact]
    public async Task A_corrupted_frame_header_should_close_the_connection_and_fail_the_transfer()
    {
        var receiver = Channel();
        var sender = Channel();
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        await using var relay = new TcpRelay(receiver.Endpoint.Port, corruptAt: 10);   // inside the hello header
        var ct = TestContext.Current.CancellationToken;

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient"), new float[1000], cancellationToken: ct));

        Assert.Contains("failed", e.Message);
        await ExpectNothing(inbox, TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Send_should_time_out_with_a_clear_error_when_the_peer_stalls()
    {
        var receiver = Channel();
        var sender = Channel(new BulkChannelOptions { IoTimeout = TimeSpan.FromSeconds(1), SocketBufferBytes = 256 * 1024 });
        var inbox = NewInbox();
        receiver.Subscribe("gradient", inbox.Receiver);
        await using var relay = new TcpRelay(receiver.Endpoint.Port);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => sender.SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient"), new byte[64 << 20],
            progress: sent => { if (sent == 1 << 20) relay.Freeze(); }, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("peer stalled", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Delivery_targets_must_be_local_actors()
    {
        var receiver = Channel();
        using var remoting = ActorSystem.Create("bulk-remote-ref", "akka.actor.provider = remote\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }");
        var remote = ((ExtendedActorSystem)remoting).Provider.ResolveActorRef("akka.tcp://other@127.0.0.1:1/user/aggregator");
        Assert.Throws<ArgumentException>(() => receiver.Subscribe("gradient", remote));
        Assert.Throws<ArgumentException>(() => receiver.Expect(Guid.NewGuid(), remote));
        await remoting.Terminate();
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _channels) await c.DisposeAsync();
        await _system.Terminate();
    }
}
