using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using MiniMind.Cluster.Security;
using MiniMind.Cluster.Tests.Transport;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Security;

/// <summary>The bulk channel over mutual TLS with the cluster certificates (issue 18), two or three channels in one
/// process on ephemeral loopback ports: members of the cluster CA exchange data bit for bit; anyone else (another CA, plain
/// TCP, garbage, a replayed capture of a real session, forged plain frames) is refused before a frame is read, counted,
/// logged once per host, and nothing of it is delivered.</summary>
public sealed class BulkChannelTlsTests : IAsyncLifetime
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    readonly ActorSystem system = ActorSystem.Create("bulk-tls-tests");
    readonly List<IAsyncDisposable> disposables = [];
    readonly string dir = TestRuns.TempRunDir("bulk-tls");
    readonly PeerRejections rejections = new();
    ClusterCredentials cluster = null!, member = null!, stranger = null!;

    public ValueTask InitializeAsync()
    {
        ClusterSecrets.Create(Path.Combine(dir, "a"), ["seed", "worker"]);
        ClusterSecrets.Create(Path.Combine(dir, "b"), ["intruder"]);
        cluster = ClusterCredentials.Load(Path.Combine(dir, "a", "seed.pfx"));
        member = ClusterCredentials.Load(Path.Combine(dir, "a", "worker.pfx"));
        stranger = ClusterCredentials.Load(Path.Combine(dir, "b", "intruder.pfx"));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in disposables) await d.DisposeAsync();
        await system.Terminate();
        cluster.Dispose();
        member.Dispose();
        stranger.Dispose();
        Directory.Delete(dir, true);
    }

    BulkChannel Channel(ClusterCredentials? tls, PeerRejections? counted = null, ILoggingAdapter? log = null)
    {
        var c = BulkChannel.Start(new BulkChannelOptions { Tls = tls, Rejections = counted, ConnectTimeout = TimeSpan.FromSeconds(5) }, log);
        disposables.Add(c);
        return c;
    }

    /// <summary>A TLS channel of the cluster CA (refusals counted and logged) and an inbox subscribed to its gradients.</summary>
    (BulkChannel Channel, Inbox Inbox) ClusterReceiver()
    {
        var receiver = Channel(cluster, rejections, system.Log);
        var inbox = Inbox.Create(system);
        receiver.Subscribe("gradient", inbox.Receiver);
        return (receiver, inbox);
    }

    static float[] RandomFloats(int n, int seed)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (var i = 0; i < a.Length; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>Warnings of the test's ActorSystem that contain "refused peer".</summary>
    Inbox RefusalLog()
    {
        var inbox = Inbox.Create(system);
        system.EventStream.Subscribe(inbox.Receiver, typeof(Warning));
        return inbox;
    }

    static async Task<List<string>> Drain(Inbox inbox, TimeSpan quiet)
    {
        var lines = new List<string>();
        while (true)
        {
            try { lines.Add((await inbox.ReceiveAsync(quiet)).ToString() ?? ""); }
            catch (TimeoutException) { return lines; }
        }
    }

    static async Task ExpectNothing(Inbox inbox, TimeSpan within)
    {
        try
        {
            var m = await inbox.ReceiveAsync(within);
            Assert.Fail($"expected nothing delivered, got {m}");
        }
        catch (TimeoutException) { }
    }

    [Fact]
    public async Task Tls_bulk_channels_of_one_cluster_CA_should_deliver_a_gradient_bit_for_bit()
    {
        var (receiver, inbox) = ClusterReceiver();
        var sender = Channel(member);
        var gradient = RandomFloats(2_500_003, 5);   // ~10 MB: many TLS records per 1 MiB frame
        var id = Guid.NewGuid();

        await sender.SendAsync(receiver.Endpoint, new BulkHeader(id, "gradient", [1, 2]), gradient, cancellationToken: TestContext.Current.CancellationToken);

        var got = Assert.IsType<BulkTransferReceived>(await inbox.ReceiveAsync(Wait));
        Assert.Equal(id, got.TransferId);
        Assert.True(gradient.AsSpan().SequenceEqual(got.Payload.AsFloats()), "received floats differ from the sent ones");
        Assert.Equal(0, rejections.Count(PeerRejections.Bulk));
    }

    [Fact]
    public async Task A_peer_of_another_CA_or_without_TLS_should_be_refused_counted_logged_once_and_deliver_nothing()
    {
        var log = RefusalLog();
        var (receiver, inbox) = ClusterReceiver();
        var intruder = Channel(stranger);
        var plain = Channel(null);
        var payload = RandomFloats(100_000, 6);

        var foreign = await Assert.ThrowsAsync<BulkTransferException>(() =>
            intruder.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: TestContext.Current.CancellationToken));
        Assert.Contains("TLS handshake failed", foreign.Message, StringComparison.Ordinal);   // it does not trust us either
        await Assert.ThrowsAsync<BulkTransferException>(() =>
            plain.SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: TestContext.Current.CancellationToken));

        await Poll.Until(() => rejections.Count(PeerRejections.Bulk) >= 2, Wait, "two refused bulk connections");
        await ExpectNothing(inbox, TimeSpan.FromSeconds(1));
        var refused = (await Drain(log, TimeSpan.FromSeconds(1))).Where(l => l.Contains("refused peer", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(refused);   // both came from 127.0.0.1: one line for the host, the rest only counted
        Assert.Contains("127.0.0.1", line, StringComparison.Ordinal);
        Assert.Equal(2, rejections.Count(PeerRejections.Bulk));
    }

    [Fact]
    public async Task A_frame_altered_on_the_wire_after_the_handshake_should_fail_authentication_and_deliver_nothing()
    {
        var (receiver, inbox) = ClusterReceiver();
        var payload = RandomFloats(1_000_000, 9);   // 4 MB: the flipped byte sits in a sealed data frame
        await using var relay = new TcpRelay(receiver.Endpoint.Port, corruptAt: 2_000_000);

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => Channel(member).SendAsync(new BulkEndpoint("127.0.0.1", relay.Port),
            new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("failed after", e.Message, StringComparison.Ordinal);
        var failed = Assert.IsType<BulkTransferFailed>(await inbox.ReceiveAsync(Wait));   // reported failed, never delivered
        Assert.Contains("failed authentication", failed.Reason, StringComparison.Ordinal);
    }

    /// <summary>Offsets of the Data frame headers in a recorded sender→receiver stream: magic "MMBK", type 3, reserved
    /// zero, the given payload length (after the TLS handshake the headers travel in the clear, as associated data).</summary>
    static List<int> DataHeaders(byte[] wire, int length)
    {
        var found = new List<int>();
        for (var i = 0; i + 40 <= wire.Length; i++)
            if (wire[i] == 0x4D && wire[i + 1] == 0x4D && wire[i + 2] == 0x42 && wire[i + 3] == 0x4B && wire[i + 4] == 3
                && wire[i + 5] == 0 && wire[i + 6] == 0 && wire[i + 7] == 0 && BitConverter.ToInt32(wire, i + 24) == length)
                found.Add(i);
        return found;
    }

    [Fact]
    public async Task Sealed_frames_should_carry_no_checksum_and_a_single_flipped_ciphertext_bit_should_still_fail_authentication()
    {
        var (receiver, inbox) = ClusterReceiver();
        var ct = TestContext.Current.CancellationToken;
        var payload = RandomFloats(1 << 20, 11);   // 4 MiB: four 1 MiB data frames
        int[] frames;
        await using (var relay = new TcpRelay(receiver.Endpoint.Port))
        {
            await Channel(member).SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: ct);
            var received = Assert.IsType<BulkTransferReceived>(await inbox.ReceiveAsync(Wait));
            Assert.True(payload.AsSpan().SequenceEqual(received.Payload.AsFloats()), "received floats differ from the sent ones");
            var wire = relay.Recorded;
            frames = [.. DataHeaders(wire, 1 << 20)];
            Assert.Equal(4, frames.Length);
            foreach (var at in frames)
                Assert.Equal(0UL, BitConverter.ToUInt64(wire, at + 28));   // the AEGIS-128L tag alone guards the payload
        }
        // The plain channel keeps its CRC-32 (the same frames, checksummed).
        var plainReceiver = Channel(null);
        plainReceiver.Subscribe("gradient", Inbox.Create(system).Receiver);
        await using (var relay = new TcpRelay(plainReceiver.Endpoint.Port))
        {
            await Channel(null).SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: ct);
            var wire = relay.Recorded;
            var plainFrames = DataHeaders(wire, 1 << 20);
            Assert.Equal(4, plainFrames.Count);
            Assert.All(plainFrames, at => Assert.NotEqual(0UL, BitConverter.ToUInt64(wire, at + 28)));
        }

        // One bit of the third frame's ciphertext flipped on the wire (same offsets: same sizes, fresh keys): with no
        // checksum to catch it, the tag must.
        var flip = frames[2] + 40 + 12345;
        await using (var relay = new TcpRelay(receiver.Endpoint.Port, corruptAt: flip, corruptMask: 0x01))
        {
            var e = await Assert.ThrowsAsync<BulkTransferException>(() => Channel(member).SendAsync(new BulkEndpoint("127.0.0.1", relay.Port),
                new BulkHeader(Guid.NewGuid(), "gradient"), payload, cancellationToken: ct));
            Assert.Contains("failed after", e.Message, StringComparison.Ordinal);
            var failed = Assert.IsType<BulkTransferFailed>(await inbox.ReceiveAsync(Wait));   // reported failed, never delivered
            Assert.Contains("failed authentication", failed.Reason, StringComparison.Ordinal);
            Assert.Equal(2L << 20, failed.BytesReceived);   // the two frames before the forged one; nothing of it counted
        }
        await ExpectNothing(inbox, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_member_of_another_build_sending_the_old_AES_GCM_key_message_should_be_refused_naming_both_cipher_suites()
    {
        var log = RefusalLog();
        var (receiver, inbox) = ClusterReceiver();
        var ct = TestContext.Current.CancellationToken;

        // A cluster member (its certificate is good) whose build sealed frames with AES-256-GCM: suite byte 1, two 32-byte keys.
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, receiver.Endpoint.Port, ct);
        await using var ssl = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(member.ClientOptions("127.0.0.1"), ct);
        var old = new byte[1 + 64];
        old[0] = 1;
        new Random(12).NextBytes(old.AsSpan(1));
        await ssl.WriteAsync(old, ct);
        await ssl.FlushAsync(ct);
        var confirmation = new byte[1];
        var read = 0;
        try { read = await ssl.ReadAsync(confirmation, ct); }
        catch (IOException) { }   // reset instead of a clean close: refused all the same
        Assert.Equal(0, read);   // no confirmation: the connection is closed

        await Poll.Until(() => rejections.Count(PeerRejections.Bulk) >= 1, Wait, "the refused connection");
        var line = Assert.Single(await Drain(log, TimeSpan.FromSeconds(1)), l => l.Contains("refused peer", StringComparison.Ordinal));
        Assert.Contains("cipher suite 1", line, StringComparison.Ordinal);
        Assert.Contains("with 2 (AEGIS-128L)", line, StringComparison.Ordinal);
        Assert.Contains("same minimind version", line, StringComparison.Ordinal);
        await ExpectNothing(inbox, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Garbage_replayed_and_forged_bytes_sent_to_a_tls_bulk_port_should_change_nothing()
    {
        var (receiver, inbox) = ClusterReceiver();
        var ct = TestContext.Current.CancellationToken;
        var payload = RandomFloats(300_000, 7);

        // A real session, recorded on the wire: delivered once.
        byte[] capture;
        await using (var relay = new TcpRelay(receiver.Endpoint.Port))
        {
            var sender = Channel(member);
            await sender.SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient", [9]), payload, cancellationToken: ct);
            var first = Assert.IsType<BulkTransferReceived>(await inbox.ReceiveAsync(Wait));
            Assert.True(payload.AsSpan().SequenceEqual(first.Payload.AsFloats()));
            capture = relay.Recorded;
            Assert.True(capture.Length > payload.Length * 4, "the relay recorded the session");
        }
        // Valid plain-TCP frames (hello, begin, data) of the same transfer, as an attacker without a certificate forges them.
        byte[] forged;
        var plainReceiver = Channel(null);
        plainReceiver.Subscribe("gradient", Inbox.Create(system).Receiver);
        await using (var relay = new TcpRelay(plainReceiver.Endpoint.Port))
        {
            await Channel(null).SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "gradient", [9]), payload, cancellationToken: ct);
            forged = relay.Recorded;
        }
        var garbage = new byte[64 * 1024];
        new Random(8).NextBytes(garbage);

        var before = rejections.Count(PeerRejections.Bulk);
        foreach (var bytes in new[] { capture, forged, garbage })
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, receiver.Endpoint.Port, ct);
            try
            {
                for (var sent = 0; sent < bytes.Length;) sent += await socket.SendAsync(bytes.AsMemory(sent), ct);
            }
            catch (SocketException) { }   // the receiver may hang up before it has read everything
            socket.Shutdown(SocketShutdown.Send);
        }

        await Poll.Until(() => rejections.Count(PeerRejections.Bulk) >= before + 3, Wait, "three refused connections");
        await ExpectNothing(inbox, TimeSpan.FromSeconds(2));
        // and the channel still serves the cluster (a fresh inbox: one whose receive timed out may swallow the next message)
        var later = Inbox.Create(system);
        receiver.Subscribe("gradient", later.Receiver);
        await Channel(member).SendAsync(receiver.Endpoint, new BulkHeader(Guid.NewGuid(), "gradient", [10]), payload, cancellationToken: ct);
        var after = Assert.IsType<BulkTransferReceived>(await later.ReceiveAsync(Wait));
        Assert.Equal([10], after.Metadata);
        Assert.Equal(before + 3, rejections.Count(PeerRejections.Bulk));
    }
}
