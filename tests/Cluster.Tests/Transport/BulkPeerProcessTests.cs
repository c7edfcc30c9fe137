using System.Diagnostics;
using Akka.Actor;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Transport;

/// <summary>A <see cref="BulkChannel"/> in a real second process (`minimind-bench exchange-peer`), SIGKILLed in the
/// middle of a transfer.</summary>
public sealed class BulkPeerProcessTests : IAsyncLifetime
{
    static readonly string Bench = RepoPaths.Bench;

    readonly ActorSystem _system = ActorSystem.Create("bulk-peer-process-tests");
    readonly BulkChannel _channel = BulkChannel.Start(new BulkChannelOptions { IoTimeout = TimeSpan.FromMinutes(2) });   // promptness must not come from a timeout

    sealed class Peer : IDisposable
    {
        readonly ChildProcess _child;

        public Peer(string args)
        {
            Assert.True(File.Exists(Bench), $"bench not built: {Bench}");
            _child = ChildProcess.Start("dotnet", [Bench, "exchange-peer", .. args.Split(' ', StringSplitOptions.RemoveEmptyEntries)], RepoPaths.Root, redirectInput: true);
        }

        public async Task<string> WaitForLine(string prefix)
        {
            await Poll.Until(() => _child.HasLineStartingWith(prefix) || _child.Process.HasExited, TimeSpan.FromSeconds(90), $"the peer's '{prefix}' line", intervalMs: 20);
            return _child.Lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
                ?? throw new Xunit.Sdk.XunitException($"peer exited without printing '{prefix}'; output:\n{string.Join('\n', _child.Lines)}");
        }

        public void Kill() => _child.KillHard();

        public void Dispose() => _child.Dispose();
    }

    static BulkEndpoint BulkEndpointOf(string readyLine) =>
        BulkEndpoint.Parse(readyLine.Split(' ').Single(f => f.StartsWith("bulk=", StringComparison.Ordinal))[5..]);

    [Fact]
    public async Task Send_should_fault_promptly_when_the_receiving_process_is_killed_mid_transfer()
    {
        using var peer = new Peer("");
        var endpoint = BulkEndpointOf(await peer.WaitForLine("ready "));
        var payload = new byte[128 << 20];
        var sinceKill = new Stopwatch();

        var e = await Assert.ThrowsAsync<BulkTransferException>(() => _channel.SendAsync(endpoint, new BulkHeader(Guid.NewGuid(), "gradient"), payload,
            progress: sent =>
            {
                if (sent < 8 << 20 || sinceKill.IsRunning) return;
                peer.Kill();   // mid-transfer: ≥ 100 MB still to go
                sinceKill.Start();
            }, cancellationToken: TestContext.Current.CancellationToken));

        Assert.True(sinceKill.IsRunning, "the peer was not killed mid-transfer");
        Assert.True(sinceKill.Elapsed < TimeSpan.FromSeconds(10), $"the send failed {sinceKill.Elapsed} after the kill");
        Assert.Contains($"to {endpoint} failed after", e.Message);
        // the channel stays usable: a new peer gets a fresh connection
        using var second = new Peer("");
        var again = BulkEndpointOf(await second.WaitForLine("ready "));
        var ok = await _channel.SendAsync(again, new BulkHeader(Guid.NewGuid(), "gradient"), new float[1000], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(4000, ok.Bytes);
    }

    [Fact]
    public async Task Receiver_should_drop_and_report_the_transfer_when_the_sending_process_is_killed_mid_transfer()
    {
        var inbox = Inbox.Create(_system);
        _channel.Subscribe("gradient", inbox.Receiver);
        const long total = 64 << 20;
        using var peer = new Peer($"--send-to {_channel.Endpoint} --send-bytes {total} --stall-after-bytes {8 << 20}");
        var ready = await peer.WaitForLine("ready ");
        await peer.WaitForLine("stalled");

        peer.Kill();

        var failed = await inbox.ReceiveAsync(TimeSpan.FromSeconds(20)) as BulkTransferFailed;
        Assert.NotNull(failed);
        Assert.Equal(BulkEndpointOf(ready), failed.From);
        Assert.Equal(total, failed.TotalBytes);
        Assert.InRange(failed.BytesReceived, 8 << 20, total - 1);
        Assert.Contains("mid-transfer", failed.Reason);
        await Assert.ThrowsAsync<TimeoutException>(() => inbox.ReceiveAsync(TimeSpan.FromMilliseconds(300)));   // no delivery of partial data
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _system.Terminate();
    }
}
