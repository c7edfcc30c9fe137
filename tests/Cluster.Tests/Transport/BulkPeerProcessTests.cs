using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Transport;

/// <summary>A <see cref="BulkChannel"/> in a real second process (`minimind-bench exchange-peer`), SIGKILLed in the
/// middle of a transfer.</summary>
public sealed class BulkPeerProcessTests : IAsyncLifetime
{
    static readonly string Bench = Path.Combine(TestRuns.Repo, "bench", "bin",
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!), "net10.0", "minimind-bench.dll");

    readonly ActorSystem _system = ActorSystem.Create("bulk-peer-process-tests");
    readonly BulkChannel _channel = BulkChannel.Start(new BulkChannelOptions { IoTimeout = TimeSpan.FromMinutes(2) });   // promptness must not come from a timeout

    sealed class Peer : IDisposable
    {
        public readonly Process Process;
        readonly ConcurrentQueue<string> _lines = new();

        public Peer(string args)
        {
            Assert.True(File.Exists(Bench), $"bench not built: {Bench}");
            var psi = new ProcessStartInfo("dotnet", $"\"{Bench}\" exchange-peer {args}")
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestRuns.Repo,
            };
            Process = Process.Start(psi)!;
            Process.OutputDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue(e.Data); };
            Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue("stderr: " + e.Data); };
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public async Task<string> WaitForLine(string prefix)
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var line = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                if (line is not null) return line;
                if (Process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(90))
                    throw new Xunit.Sdk.XunitException($"peer did not print '{prefix}' (exited: {Process.HasExited}); output:\n{string.Join('\n', _lines)}");
                await Task.Delay(20);
            }
        }

        public void Kill()
        {
            Process.Kill(entireProcessTree: true);   // SIGKILL
            Process.WaitForExit();
        }

        public void Dispose()
        {
            if (!Process.HasExited) Kill();
            Process.Dispose();
        }
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
