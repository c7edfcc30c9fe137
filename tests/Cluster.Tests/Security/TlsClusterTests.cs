using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using MiniMind.Cluster.Security;
using MiniMind.Cluster.Tests.Transport;
using MiniMind.Cluster.Transport;
using Xunit;

namespace MiniMind.Cluster.Tests.Security;

/// <summary>Issue 18 with real processes on loopback (ports 47450-47459), every node on the TLS path, with cluster
/// certificates (--cluster-cert) or one cluster secret (--cluster-secret): a worker with another CA's certificate, or
/// another secret, is refused while the run goes on; garbage, a replayed capture and forged plain frames sent to the
/// seed's bulk port change nothing; a plain-HTTP request to the HTTPS control endpoint fails cleanly; ctl verifies the
/// endpoint (--ca, --pin, --cluster-secret) and fails cleanly with the wrong one; the run ends bitwise equal to one
/// process.</summary>
[Collection("cluster processes")]
public class TlsClusterTests(SingleProcessReference reference, ITestOutputHelper output) : IClassFixture<SingleProcessReference>
{
    static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task A_node_bound_off_loopback_without_cluster_certificates_should_refuse_to_start_naming_the_flag()
    {
        using var p = new ClusterProcesses(output);
        var dir = TestRuns.TempRunDir("tls-refuse");
        foreach (var args in new[]
        {
            new[] { "node", "seed", "--host", "10.11.12.13", "--port", "47459", "--journal", $"sqlite:{Path.Combine(dir, "j.db")}" },
            ["node", "worker", "--host", "10.11.12.13", "--seed", "10.11.12.14:47459", "--device", "cpu"],
        })
        {
            var node = p.Start(args[1], args);
            Assert.Equal(2, await node.Exit(Minute, TestContext.Current.CancellationToken));
            Assert.Contains(node.Lines, l => l.Contains("--host 10.11.12.13", StringComparison.Ordinal) && l.Contains("--cluster-cert", StringComparison.Ordinal)
                                             && l.Contains("--cluster-secret", StringComparison.Ordinal) && l.Contains("--insecure", StringComparison.Ordinal));
        }
        Directory.Delete(dir, true);
    }

    /// <summary>The flags of one cluster (a) and of another (b): each node's and ctl's (the worker's environment); and
    /// credentials of a member of a.</summary>
    sealed record Setup(string[] Seed, string[] Worker, Dictionary<string, string>? WorkerEnv, string[] Intruder, string[] Ctl, string[] WrongCtl, ClusterCredentials Member);

    /// <summary>cert: two certificate directories (init-secrets --node); secret: two cluster secrets (init-secrets --secret).</summary>
    static Setup Clusters(string mode, string dir)
    {
        var (a, b) = (Path.Combine(dir, "a"), Path.Combine(dir, "b"));
        if (mode == "cert")
        {
            ClusterSecrets.Create(a, ["seed", "worker"]);
            ClusterSecrets.Create(b, ["intruder"]);
            return new(["--cluster-cert", Path.Combine(a, "seed.pfx")], ["--cluster-cert", Path.Combine(a, "worker.pfx")], null, ["--cluster-cert", Path.Combine(b, "intruder.pfx")],
                ["--ca", a], ["--ca", Path.Combine(b, "ca.crt")], ClusterCredentials.Load(Path.Combine(a, "worker.pfx")));
        }
        var (secret, wrong) = (SecretAuthority.Create(a), SecretAuthority.Create(b));
        string[] flags = ["--cluster-secret", secret];
        // the worker takes it from an environment variable (the file's content, newline and all)
        return new(flags, ["--cluster-secret", "env:MINIMIND_TEST_CLUSTER_SECRET"], new() { ["MINIMIND_TEST_CLUSTER_SECRET"] = File.ReadAllText(secret) },
            ["--cluster-secret", wrong], flags, ["--cluster-secret", wrong], ClusterCredentials.FromSecret(SecretAuthority.Read(secret), secret, "member"));
    }

    [Theory]
    [InlineData("cert")]
    [InlineData("secret")]
    public async Task A_run_across_TLS_nodes_refuses_a_foreign_worker_and_forged_bulk_frames_and_ends_bitwise_equal_to_one_process(string mode)
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = TestRuns.TempRunDir("tls-cluster");
        var setup = Clusters(mode, dir);
        using var member = setup.Member;
        using var p = new ClusterProcesses(output);
        string[] Fast = ["--failure-detector", "fast", "--threads", "1"];

        var seed = p.Start("seed", ["node", "seed", "--port", "47450", "--control", "127.0.0.1:47451", "--journal", $"sqlite:{Path.Combine(dir, "journal.db")}",
            .. setup.Seed, .. Fast]);
        await ClusterProcesses.WaitFor(() => seed.Saw("seed up") || seed.Process.HasExited, Minute, "the seed");
        var worker = p.Start("worker", setup.WorkerEnv, ["node", "worker", "--seed", "127.0.0.1:47450", "--device", "cpu", "--port", "47452", .. setup.Worker, .. Fast]);
        var intruder = p.Start("intruder", ["node", "worker", "--seed", "127.0.0.1:47450", "--device", "cpu", "--port", "47453", .. setup.Intruder, .. Fast]);
        await ClusterProcesses.WaitFor(() => worker.Saw("worker up") || worker.Process.HasExited, Minute, "the worker");
        var up = Assert.Single(seed.Lines, l => l.StartsWith("seed up: akka.ssl.tcp://minimind@127.0.0.1:47450", StringComparison.Ordinal));
        Assert.Contains("control https://127.0.0.1:47451", up, StringComparison.Ordinal);
        var bulkPort = int.Parse(up.Split(" | bulk 127.0.0.1:")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        var fingerprint = up[(up.LastIndexOf("SHA-256 ", StringComparison.Ordinal) + 8)..].TrimEnd(')');

        // The foreign worker cannot associate: the seed says so in one line naming it (it retries every 2 s).
        await ClusterProcesses.WaitFor(() => seed.Saw("Akka.Remote: refused peer"), Minute, "the seed refusing the intruder");

        // Control endpoint: HTTPS only. Plain HTTP fails cleanly (connection closed, the node keeps serving); ctl verifies
        // the certificate against the cluster CA or a pinned fingerprint.
        using (var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync("http://127.0.0.1:47451/alive", ct));
        var (code, lines) = await p.Ctl(Minute, "--host", "127.0.0.1:47451", "cluster", "show");
        Assert.Equal(1, code);
        Assert.Contains(lines, l => l.Contains("pass --ca", StringComparison.Ordinal));
        (code, lines) = await p.Ctl(Minute, ["--host", "127.0.0.1:47451", .. setup.WrongCtl, "cluster", "show"]);
        Assert.Equal(1, code);
        Assert.Single(lines, l => l.Contains("TLS handshake failed", StringComparison.Ordinal));
        (code, lines) = await p.Ctl(Minute, "--host", "127.0.0.1:47451", "--pin", fingerprint, "cluster", "show");
        Assert.True(code == 0, string.Join("\n", lines));
        Assert.Contains(lines, l => l.StartsWith("akka.ssl.tcp://minimind@127.0.0.1:47452 ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(":47453", StringComparison.Ordinal));

        string[] Ctl(params string[] verb) => ["--host", "127.0.0.1:47451", .. setup.Ctl, .. verb];
        var runDir = Path.Combine(dir, "run");
        (code, lines) = await p.Ctl(Minute, Ctl(["train", "start", .. SingleProcessReference.TrainArgs(runDir)]));
        Assert.True(code == 0, string.Join("\n", lines));
        var wait = p.Ctl(4 * Minute, Ctl("train", "status", "--wait"));

        // Mid-run, at the seed's bulk port: a replayed capture of a real TLS session, forged plain frames, garbage.
        var capture = await CaptureTlsSession(member, bulkPort, ct);
        var forged = await CapturePlainFrames(ct);
        var garbage = new byte[256 * 1024];
        new Random(18).NextBytes(garbage);
        using var https = Https(member);
        await Poll.Until(async () => await Step(https) >= 1, 2 * Minute, "step 1");
        foreach (var bytes in new[] { capture, forged, garbage }) await SendRaw(bulkPort, bytes, ct);

        (code, lines) = await wait;
        Assert.True(code == 0, string.Join("\n", lines));
        Assert.Contains(lines, l => l.Contains("| completed | step 12/12", StringComparison.Ordinal));
        Assert.Equal(reference.Final, TestRuns.FinalCheckpoint(runDir, SingleProcessReference.Steps));
        Assert.Equal(reference.Output, File.ReadAllBytes(Path.Combine(runDir, "pretrain_64.pth")));

        // The worker computed: its gradients reached the seed over the (TLS) bulk channel. The refusals are counted.
        var metrics = await https.GetStringAsync("https://127.0.0.1:47451/metrics", ct);
        double Sample(string name) => double.Parse(Assert.Single(metrics.Split('\n'), l => l.StartsWith(name + " ", StringComparison.Ordinal))[(name.Length + 1)..],
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Sample("minimind_gradients_received_total{path=\"bulk\"}") > 0, metrics);
        Assert.True(Sample("minimind_peers_rejected_total{channel=\"bulk\"}") >= 3, metrics);
        Assert.True(Sample("minimind_peers_rejected_total{channel=\"remoting\"}") >= 2, metrics);   // the intruder kept trying
        // One line per refused host and channel, naming it; DotNetty's per-attempt reports are not in the log.
        Assert.Single(seed.Lines, l => l.Contains("Akka.Remote: refused peer", StringComparison.Ordinal) && l.Contains("127.0.0.1", StringComparison.Ordinal));
        Assert.Single(seed.Lines, l => l.Contains("bulk channel: refused peer", StringComparison.Ordinal) && l.Contains("127.0.0.1", StringComparison.Ordinal));
        Assert.DoesNotContain(seed.Lines, l => l.Contains("TLS handshake failed (Server side)", StringComparison.Ordinal));
        Assert.False(intruder.Saw("ready at step"));

        // The interactive shell passes --ca / --cluster-secret on to every verb it runs.
        var shell = ChildProcess.Run("dotnet", [ClusterProcesses.Cli, "ctl", .. Ctl()], Minute, RepoPaths.Root, "cluster show\nexit\n");
        Assert.True(shell.ExitCode == 0, shell.Out + shell.Error);
        Assert.Contains("akka.ssl.tcp://minimind@127.0.0.1:47452 ", shell.Out, StringComparison.Ordinal);
        Directory.Delete(dir, true);
    }

    /// <summary>The bytes a cluster member sends in a real TLS session to <paramref name="port"/> (hello and a transfer the
    /// seed refuses: no actor takes its topic), recorded through a relay.</summary>
    static async Task<byte[]> CaptureTlsSession(ClusterCredentials member, int port, CancellationToken ct)
    {
        await using var relay = new TcpRelay(port);
        await using var channel = BulkChannel.Start(new BulkChannelOptions { Tls = member });
        await Assert.ThrowsAsync<BulkTransferException>(() =>
            channel.SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), "no-such-topic"), new float[1000], cancellationToken: ct));
        var recorded = relay.Recorded;
        Assert.True(recorded.Length > 4000, "the relay recorded the TLS session");
        return recorded;
    }

    /// <summary>Valid plain-TCP bulk frames (hello, begin, data of a "gradient" transfer), as a peer without a certificate
    /// would forge them: recorded between two plain channels of this process.</summary>
    static async Task<byte[]> CapturePlainFrames(CancellationToken ct)
    {
        using var system = Akka.Actor.ActorSystem.Create("forge");
        await using var receiver = BulkChannel.Start();
        receiver.Subscribe(BulkGradientTransport.Topic, Akka.Actor.Inbox.Create(system).Receiver);
        await using var relay = new TcpRelay(receiver.Endpoint.Port);
        await using var sender = BulkChannel.Start();
        await sender.SendAsync(new BulkEndpoint("127.0.0.1", relay.Port), new BulkHeader(Guid.NewGuid(), BulkGradientTransport.Topic, [1, 2, 3]), new float[300_000], cancellationToken: ct);
        await system.Terminate();
        return relay.Recorded;
    }

    /// <summary>The run's committed step over HTTPS (-1 while there is none).</summary>
    static async Task<long> Step(HttpClient https)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(await https.GetStringAsync("https://127.0.0.1:47451/api/train/status"));
            return doc.RootElement.GetProperty("step").GetInt64();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException)
        {
            return -1;
        }
    }

    static async Task SendRaw(int port, byte[] bytes, CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port, ct);
        try
        {
            for (var sent = 0; sent < bytes.Length;) sent += await socket.SendAsync(bytes.AsMemory(sent), ct);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException) { }   // the node hung up first: refused
    }

    /// <summary>An HTTPS client that trusts exactly the cluster CA of <paramref name="credentials"/>.</summary>
    static HttpClient Https(ClusterCredentials credentials) => new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => credentials.IsTrusted(cert, out _) },
    }) { Timeout = TimeSpan.FromSeconds(10) };
}
