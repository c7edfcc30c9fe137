using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using MiniMind.Actors.Protocol;
using MiniMind.Cluster.Transport;

namespace MiniMind.Bench;

/// <summary>
/// Gradient exchange between two processes on loopback (issue 5):
///   exchange [--params 25829888] [--reps 9] [--frame-kb 1024] [--chunk-mb 4] [--socket-buffer-kb 4096 (0: kernel default)] [--tls]
/// Moves one float32 gradient of --params floats (default: minimind2-small, 25.83M) from this process to a child
/// (`exchange-peer`), each repetition five ways, interleaved so machine load hits them alike:
///   (a) raw TCP: one socket, length prefix, one write of the whole buffer, 1-byte ack (the ceiling);
///   (d) the training path: an actor calls its ActorSystem's IGradientTransport (BulkGradientTransport, installed as
///       on a cluster node, with the peer's endpoint learnt through GetBulkEndpoint), the peer's /user/bulk-gradients
///       tells the GradientChunk to the receiving actor, which replies to the chunk's sender (the clock stops there);
///   (b) BulkChannel, coordinated as in training: the sender asks the receiving actor (Akka message) for a transfer id,
///       the actor Expects it with its own reused float[] buffer, the sender SendAsync(float[])s until the receiver's ack
///       (frames checksummed, read straight into the buffer, BulkTransferReceived told to the actor);
///   (b') BulkChannel to a topic subscriber: the receiver allocates a fresh float[] per transfer (shows that cost);
///   (c) Akka.Remote: GradientChunk.Split into --chunk-mb chunks (TrainingSerializer), Tell each, the remote actor
///       joins them into a float[] and replies.
/// Prints MB/s (10^6 bytes/s) per repetition, the medians, and (d)/(a), (b)/(a), (c)/(a) (target (d)/(a) ≥ 0.5).
/// With --tls (issue 18) every BulkChannel ((d), (b), (b')) speaks mutual TLS with cluster certificates made for the run
/// (<see cref="MiniMind.Cluster.Security.ClusterSecrets"/>), as on nodes started with --cluster-cert; (a) stays plain TCP,
/// so (d)/(a) is the cost of the authenticated, encrypted training path against the raw ceiling.
/// </summary>
public static class ExchangeBench
{
    const string Topic = "gradient";

    public static int Run(string[] args)
    {
        var a = new BenchArgs(args, ["--params", "--reps", "--frame-kb", "--chunk-mb", "--socket-buffer-kb"], ["--tls"]);
        int parameters = a.Int("--params", 25_829_888), reps = a.Int("--reps", 9), frameKb = a.Int("--frame-kb", 1024), chunkMb = a.Int("--chunk-mb", 4);
        var socketKb = SocketKb(a);
        var gradient = new float[parameters];
        var random = new Random(1);
        for (var i = 0; i < gradient.Length; i++) gradient[i] = (float)random.NextDouble();
        var bytes = (long)parameters * sizeof(float);
        var machine = $"{Measure.CpuSummary()}, cipher flags {Measure.CpuFlags(' ', "aes", "vaes", "pclmulqdq", "vpclmulqdq")}";
        Console.WriteLine($"cpu: {machine}; load {Measure.LoadAverage():F2}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"gradient: {parameters:N0} float32 = {bytes / 1e6:F1} MB; {reps} repetitions (+1 warm-up); BulkChannel frame {frameKb} KiB, socket buffers {socketKb} KiB; Akka chunk {chunkMb} MiB");
        var span = MemoryMarshal.AsBytes(gradient.AsSpan());
        var copy = new byte[span.Length];
        // One core, CPU time of this thread (wall time on a shared machine also counts time descheduled).
        var memcpy = CoreGBps(span.Length, () => MemoryMarshal.AsBytes(gradient.AsSpan()).CopyTo(copy));
        var xxhash = CoreGBps(span.Length, () => System.IO.Hashing.XxHash3.HashToUInt64(MemoryMarshal.AsBytes(gradient.AsSpan())));
        var crc = CoreGBps(span.Length, () => System.IO.Hashing.Crc32.HashToUInt32(MemoryMarshal.AsBytes(gradient.AsSpan())));
        var frame = Math.Min(frameKb * 1024, span.Length);
        var (aes128, aes128Open) = CipherGBps(gradient, frame, "aes-128-gcm");
        var (aes256, aes256Open) = CipherGBps(gradient, frame, "aes-256-gcm");
        var (aegis, aegisOpen) = CipherGBps(gradient, frame, "aegis-128l");
        Console.WriteLine($"one core (CPU time), whole gradient: memcpy {memcpy:F1} GB/s, XxHash3 {xxhash:F1} GB/s, CRC-32 (the plain frame checksum) {crc:F1} GB/s; " +
            $"per {frame / 1024} KiB frame, seal/open: AEGIS-128L (the TLS bulk channel's frames) {aegis:F1}/{aegisOpen:F1} GB/s, " +
            $"AES-128-GCM {aes128:F1}/{aes128Open:F1} GB/s, AES-256-GCM {aes256:F1}/{aes256Open:F1} GB/s");

        string? tlsDir = null;
        if (a.Flag("--tls"))
        {
            tlsDir = Path.Combine(Path.GetTempPath(), $"minimind-exchange-tls-{Guid.NewGuid():N}");
            MiniMind.Cluster.Security.ClusterSecrets.Create(tlsDir, ["sender", "peer"]);
        }
        using var tls = tlsDir is null ? null : MiniMind.Cluster.Security.ClusterCredentials.Load(Path.Combine(tlsDir, "sender.pfx"));
        Console.WriteLine(tls is null ? "bulk channels: plain TCP" : "bulk channels: mutual TLS with cluster certificates (ECDSA P-256), as with --cluster-cert");
        using var peer = Peer.Start($"exchange-peer --frame-kb {frameKb} --chunk-mb {chunkMb} --socket-buffer-kb {socketKb}{(tlsDir is null ? "" : $" --tls-dir {tlsDir}")}");
        var ready = peer.WaitForLine("ready ", TimeSpan.FromSeconds(60));
        var fields = ready.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
        Console.WriteLine($"peer pid {peer.Process.Id}: {ready}");

        using var system = ActorSystem.Create("exchange-sender", RemoteConfig(chunkMb));
        var sink = system.ActorSelection($"{fields["akka"]}/user/sink").ResolveOne(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        var channel = BulkChannel.Start(new BulkChannelOptions { FrameBytes = frameKb * 1024, SocketBufferBytes = socketKb * 1024, Tls = tls });
        var bulkPeer = BulkEndpoint.Parse(fields["bulk"]);
        using var raw = new TcpClient { NoDelay = true };
        raw.Connect(IPAddress.Loopback, int.Parse(fields["raw"], CultureInfo.InvariantCulture));
        var rawStream = raw.GetStream();

        var bulkSink = system.ActorSelection($"{fields["akka"]}/user/bulk-sink").ResolveOne(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();

        // (d): this process is a node with the training transport; it learns the peer's gradient endpoint as a cluster
        // node does on MemberUp (GetBulkEndpoint to the peer's /user/bulk-gradients).
        var transport = BulkGradientTransport.Install(system, channel);
        var peerAddress = Address.Parse(fields["akka"]);
        system.ActorSelection($"/user/{BulkGradients.Name}").Tell(new BulkGradients.Discover(peerAddress));
        var discovery = Stopwatch.StartNew();
        while (!transport.TryGetPeer(peerAddress, out _))
        {
            if (discovery.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the peer's gradient endpoint was not learnt within 30 s");
            Thread.Sleep(10);
        }
        transport.TryGetPeer(peerAddress, out var gradientPeer);
        var gradientSink = system.ActorSelection($"{fields["akka"]}/user/gradient-sink").ResolveOne(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        var worker = system.ActorOf(Props.Create(() => new GradientSender()), "worker");
        Console.WriteLine($"training transport: peer {peerAddress} gradients at {gradientPeer}");

        var results = new Dictionary<string, List<double>> { ["raw"] = [], ["real"] = [], ["bulk"] = [], ["fresh"] = [], ["akka"] = [] };
        // CPU seconds both processes spent per way and repetition: on a shared 2-core machine the CPU a way needs per
        // byte is what decides its share of the throughput, and it does not depend on the load.
        var cpu = results.Keys.ToDictionary(k => k, _ => new List<double>());
        var peerPid = peer.Process.Id;
        double Timed(string way, Func<double> once)
        {
            var before = TaskCpuSeconds(Environment.ProcessId) + TaskCpuSeconds(peerPid);
            var seconds = once();
            cpu[way].Add(TaskCpuSeconds(Environment.ProcessId) + TaskCpuSeconds(peerPid) - before);
            return bytes / 1e6 / seconds;
        }
        Console.WriteLine("MB/s     (a) raw TCP   (d) training path   (b) BulkChannel   (b') fresh array   (c) Akka.Remote");
        for (var rep = 0; rep <= reps; rep++)
        {
            var r = Timed("raw", () => RawOnce(rawStream, gradient));
            var d = Timed("real", () => TransportOnce(worker, gradientSink, gradient, rep));
            var b = Timed("bulk", () => BulkOnce(channel, bulkPeer, bulkSink, gradient));
            var f = Timed("fresh", () => BulkOnce(channel, bulkPeer, null, gradient));
            var k = Timed("akka", () => AkkaOnce(system, sink, gradient, rep, chunkMb));
            Console.WriteLine($"{(rep == 0 ? "warm-up" : $"rep {rep}"),-8} {r,13:F0} {d,19:F0} {b,17:F0} {f,18:F0} {k,17:F0}");
            if (rep == 0)
            {
                foreach (var l in cpu.Values) l.Clear();
                continue;
            }
            results["raw"].Add(r);
            results["real"].Add(d);
            results["bulk"].Add(b);
            results["fresh"].Add(f);
            results["akka"].Add(k);
        }
        double rawMed = Median(results["raw"]), realMed = Median(results["real"]), bulkMed = Median(results["bulk"]), freshMed = Median(results["fresh"]), akkaMed = Median(results["akka"]);
        Console.WriteLine($"{"median",-8} {rawMed,13:F0} {realMed,19:F0} {bulkMed,17:F0} {freshMed,18:F0} {akkaMed,17:F0}");
        Console.WriteLine($"{"best",-8} {results["raw"].Max(),13:F0} {results["real"].Max(),19:F0} {results["bulk"].Max(),17:F0} {results["fresh"].Max(),18:F0} {results["akka"].Max(),17:F0}");
        Console.WriteLine($"medians: (d)/(a) training path / raw TCP = {realMed / rawMed:F2} (target ≥ 0.50); (b)/(a) BulkChannel / raw TCP = {bulkMed / rawMed:F2}; (b')/(a) = {freshMed / rawMed:F2}; (c)/(a) Akka.Remote / raw TCP = {akkaMed / rawMed:F3}");
        Console.WriteLine($"best:    (d)/(a) = {results["real"].Max() / results["raw"].Max():F2}; (b)/(a) = {results["bulk"].Max() / results["raw"].Max():F2}; (b')/(a) = {results["fresh"].Max() / results["raw"].Max():F2}; (c)/(a) = {results["akka"].Max() / results["raw"].Max():F3}");
        var paired = Median(results["bulk"].Zip(results["raw"], (b, r) => b / r).ToList());
        var realPaired = Median(results["real"].Zip(results["raw"], (d, r) => d / r).ToList());
        Console.WriteLine($"median of the per-repetition ratios: (d)/(a) = {realPaired:F2}, (b)/(a) = {paired:F2} (each pair runs back to back, so these are the least load-sensitive figures)");
        // CPU per 100 MB, both processes (median over the repetitions); raw/way is the throughput ratio a machine whose
        // cores are all busy would see (each way gets the same CPU share, so its speed is inverse to its CPU per byte).
        var cpuMs = cpu.ToDictionary(p => p.Key, p => Median(p.Value.Select(s => s * 1e3 * 1e8 / bytes).ToList()));
        Console.WriteLine($"{"CPU ms/100 MB",-8} {cpuMs["raw"],8:F0} {cpuMs["real"],19:F0} {cpuMs["bulk"],17:F0} {cpuMs["fresh"],18:F0} {cpuMs["akka"],17:F0}   (both processes, median)");
        Console.WriteLine($"CPU cost ratios: raw TCP CPU / training path CPU = {cpuMs["raw"] / cpuMs["real"]:F2}, raw / BulkChannel = {cpuMs["raw"] / cpuMs["bulk"]:F2} (the speed ratio on a fully loaded machine)");
        var c = transport.Counters;
        Console.WriteLine($"training transport: {c.SentGradients(GradientPath.Bulk)} gradients over the bulk channel, {c.SentGradients(GradientPath.Remoting)} through Akka.Remote ({c.Fallbacks} fallbacks)");
        if (c.SentGradients(GradientPath.Remoting) > 0) Console.WriteLine("WARNING: some (d) transfers fell back to Akka.Remote; column (d) is not the bulk path alone");
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"load average (1/5/15 min, running/total, last pid): {load}");

        channel.DisposeAsync().AsTask().GetAwaiter().GetResult();
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        peer.Stop();
        if (tlsDir is not null) Directory.Delete(tlsDir, true);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            bench = "exchange", cpu = machine, tls = tls is not null, aegis128l_seal_gbps = Math.Round(aegis, 2), aes256gcm_seal_gbps = Math.Round(aes256, 2), parameters, bytes, reps, frame_kb = frameKb, chunk_mb = chunkMb,
            raw_mbps = Math.Round(rawMed, 1), transport_mbps = Math.Round(realMed, 1), transport_over_raw = Math.Round(realMed / rawMed, 3),
            transport_over_raw_paired = Math.Round(realPaired, 3), transport_runs = results["real"].Select(v => Math.Round(v)), load_average = load,
            bulk_mbps = Math.Round(bulkMed, 1), bulk_fresh_mbps = Math.Round(freshMed, 1), akka_mbps = Math.Round(akkaMed, 1),
            bulk_over_raw = Math.Round(bulkMed / rawMed, 3), bulk_over_raw_paired = Math.Round(paired, 3), bulk_fresh_over_raw = Math.Round(freshMed / rawMed, 3), akka_over_raw = Math.Round(akkaMed / rawMed, 4),
            cpu_ms_per_100mb = cpuMs.ToDictionary(p => p.Key, p => Math.Round(p.Value, 1)),
            transport_cpu_over_raw_cpu = Math.Round(cpuMs["real"] / cpuMs["raw"], 3), bulk_cpu_over_raw_cpu = Math.Round(cpuMs["bulk"] / cpuMs["raw"], 3),
            raw_runs = results["raw"].Select(v => Math.Round(v)), bulk_runs = results["bulk"].Select(v => Math.Round(v)),
            bulk_fresh_runs = results["fresh"].Select(v => Math.Round(v)), akka_runs = results["akka"].Select(v => Math.Round(v)),
        }));
        return 0;
    }

    /// <summary>--socket-buffer-kb: KiB, or 0 for the kernel's default (autotuned) buffers.</summary>
    static int SocketKb(BenchArgs a) => a.String("--socket-buffer-kb") == "0" ? 0 : a.Int("--socket-buffer-kb", new BulkChannelOptions().SocketBufferBytes / 1024);

    static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>GB/s of one core (this thread's CPU time) for three runs of <paramref name="work"/> over <paramref name="bytes"/>.</summary>
    static double CoreGBps(long bytes, Action work)
    {
        work();
        var start = CpuClock.ThreadSeconds();
        for (var i = 0; i < 3; i++) work();
        return 3 * bytes / 1e9 / Math.Max(CpuClock.ThreadSeconds() - start, 1e-9);
    }

    /// <summary>Seal and open GB/s of one core over the gradient in frames of <paramref name="frame"/> bytes, as the TLS
    /// bulk channel does them: seal from the source into one frame-sized buffer (the sender's, reused), open that frame
    /// (hot in cache, as the receiver's after the socket read); header as associated data, counter nonce. AES-GCM
    /// (OpenSSL, what TLS uses) with a 16- or 32-byte key, or AEGIS-128L (libsodium, what the bulk channel seals with).</summary>
    static (double Seal, double Open) CipherGBps(float[] gradient, int frame, string cipher)
    {
        var frames = gradient.Length * sizeof(float) / frame;
        var header = new byte[40];   // a frame header's size
        var sealedFrame = new byte[frame + 32];
        var opened = new byte[frame];
        Action<int> seal, open;
        IDisposable key;
        if (cipher == "aegis-128l")
        {
            var aegis = NSec.Cryptography.AeadAlgorithm.Aegis128L;
            var k = NSec.Cryptography.Key.Create(aegis);
            var nonce = new byte[16];
            var size = frame + aegis.TagSize;
            seal = f =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(nonce, f);
                aegis.Encrypt(k, nonce, header, MemoryMarshal.AsBytes(gradient.AsSpan()).Slice(f * frame, frame), sealedFrame.AsSpan(0, size));
            };
            open = f =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(nonce, f);
                if (!aegis.Decrypt(k, nonce, header, sealedFrame.AsSpan(0, size), opened)) throw new InvalidOperationException("AEGIS-128L open failed");
            };
            key = k;
        }
        else
        {
            var aes = new System.Security.Cryptography.AesGcm(new byte[cipher == "aes-128-gcm" ? 16 : 32], 16);
            var nonce = new byte[12];
            var tag = new byte[16];
            seal = f =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(nonce, f);
                aes.Encrypt(nonce, MemoryMarshal.AsBytes(gradient.AsSpan()).Slice(f * frame, frame), sealedFrame.AsSpan(0, frame), tag, header);
            };
            open = f =>
            {
                BinaryPrimitives.WriteInt64LittleEndian(nonce, f);
                aes.Decrypt(nonce, sealedFrame.AsSpan(0, frame), tag, opened, header);
            };
            key = aes;
        }
        using (key)
        {
            double sealSeconds = 0, openSeconds = 0;
            for (var f = 0; f < frames; f++)
            {
                var start = CpuClock.ThreadSeconds();
                seal(f);
                var middle = CpuClock.ThreadSeconds();
                open(f);
                openSeconds += CpuClock.ThreadSeconds() - middle;
                sealSeconds += middle - start;
            }
            var bytes = (long)frames * frame / 1e9;
            return (bytes / Math.Max(sealSeconds, 1e-9), bytes / Math.Max(openSeconds, 1e-9));
        }
    }

    /// <summary>CPU seconds all live threads of a process have run (/proc/PID/task/*/schedstat, nanoseconds).</summary>
    static double TaskCpuSeconds(int pid)
    {
        long ns = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(task, "schedstat"));
                ns += long.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // the thread just exited
        }
        return ns * 1e-9;
    }

    static double RawOnce(NetworkStream stream, float[] gradient)
    {
        var clock = Stopwatch.StartNew();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, (long)gradient.Length * sizeof(float));
        stream.Write(length);
        stream.Write(MemoryMarshal.AsBytes(gradient.AsSpan()));
        if (stream.ReadByte() != 1) throw new InvalidOperationException("raw TCP peer did not acknowledge");
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>One transfer; with <paramref name="receiver"/> it first asks that actor for a transfer id (not timed: in
    /// training the id is handed out ahead, in the message that starts the step).</summary>
    static double BulkOnce(BulkChannel channel, BulkEndpoint peer, IActorRef? receiver, float[] gradient)
    {
        var id = receiver is null ? Guid.NewGuid()
            : Guid.Parse(receiver.Ask<string>($"expect {gradient.Length}", TimeSpan.FromSeconds(30)).GetAwaiter().GetResult(), CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        channel.SendAsync(peer, new BulkHeader(id, Topic), gradient).GetAwaiter().GetResult();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>(d): the worker actor sends the gradient through its ActorSystem's IGradientTransport (as GpuWorker
    /// does) to the peer's gradient sink, which replies once it holds the whole gradient as GradientChunk(s).</summary>
    static double TransportOnce(IActorRef worker, IActorRef receiver, float[] gradient, int step)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        worker.Tell(new GradientSender.Go(step, receiver, gradient, done));
        var reply = done.Task.WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        var expected = $"received {step} {(long)gradient.Length * sizeof(float)} bytes";
        if (!reply.StartsWith(expected, StringComparison.Ordinal)) throw new InvalidOperationException($"gradient sink replied '{reply}', expected '{expected} …'");
        return seconds;
    }

    static double AkkaOnce(ActorSystem system, IActorRef sink, float[] gradient, int step, int chunkMb)
    {
        var done = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiter = system.ActorOf(Props.Create(() => new Waiter(done)));
        var clock = Stopwatch.StartNew();
        foreach (var chunk in GradientChunk.Split(step, 0, gradient, chunkMb << 20)) sink.Tell(chunk, waiter);
        var reply = done.Task.WaitAsync(TimeSpan.FromMinutes(2)).GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        system.Stop(waiter);
        if (reply is not string s || s != $"joined {step} {gradient.Length}") throw new InvalidOperationException($"Akka peer replied {reply}");
        return seconds;
    }

    static Config RemoteConfig(int chunkMb) => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0, maximum-frame-size = {{(chunkMb << 20) + 65536}}b }
        akka.actor.serializers.training = "MiniMind.Actors.Protocol.TrainingSerializer, MiniMind.Actors"
        akka.actor.serialization-bindings { "MiniMind.Actors.Protocol.IClusterMessage, MiniMind.Actors" = training }
        """);

    /// <summary>Completes a task with the first message it gets (the Akka peer's reply).</summary>
    sealed class Waiter : ReceiveActor
    {
        public Waiter(TaskCompletionSource<object> done) => ReceiveAny(m => done.TrySetResult(m));
    }

    /// <summary>(d) sender side: stands in for a GpuWorker, which hands its gradient to the transport with itself as sender.</summary>
    sealed class GradientSender : ReceiveActor
    {
        public sealed record Go(long Step, IActorRef Receiver, float[] Gradient, TaskCompletionSource<string> Done);

        TaskCompletionSource<string>? _done;

        public GradientSender()
        {
            Receive<Go>(g =>
            {
                _done = g.Done;
                GradientTransport.For(Context.System).Send(g.Receiver, g.Step, 0, 1, g.Gradient, Self);
            });
            Receive<string>(s => _done?.TrySetResult(s));
        }
    }

    /// <summary>(d) receiver side: stands in for the aggregator; once it holds a step's whole gradient (one chunk over
    /// the bulk channel, several through remoting) it replies "received step bytes bytes in count chunk(s)" to the chunk's sender.</summary>
    sealed class GradientSink : ReceiveActor
    {
        int _chunks;
        long _bytes;

        public GradientSink() => Receive<GradientChunk>(c =>
        {
            _chunks++;
            _bytes += c.Data.Length;
            if (_chunks < c.Count) return;
            Sender.Tell($"received {c.Step} {_bytes} bytes in {_chunks} chunk(s)");
            (_chunks, _bytes) = (0, 0);
        });
    }

    /// <summary>The Akka side of the peer: collects a step's chunks, joins them into one float[] (what an aggregator
    /// does), replies "joined step floats" to the sender of the last chunk.</summary>
    sealed class Sink : ReceiveActor
    {
        readonly List<GradientChunk> _chunks = [];

        public Sink() => Receive<GradientChunk>(c =>
        {
            _chunks.Add(c);
            if (_chunks.Count < c.Count) return;
            var length = (int)(_chunks.Sum(x => (long)x.Data.Length) / sizeof(float));
            var joined = GradientChunk.Join(_chunks, length);
            _chunks.Clear();
            Sender.Tell($"joined {c.Step} {joined.Length}");
        });
    }

    /// <summary>The BulkChannel side of the peer. "expect N" (an Akka message from the sender) → Expects a new transfer
    /// id into this actor's reused N-float buffer and replies the id; received payloads are dropped (the ack already went back).</summary>
    sealed class BulkSink : ReceiveActor
    {
        float[] _buffer = [];

        public BulkSink(BulkChannel channel)
        {
            Receive<string>(m => m.StartsWith("expect ", StringComparison.Ordinal), m =>
            {
                var n = int.Parse(m.AsSpan(7), CultureInfo.InvariantCulture);
                if (_buffer.Length != n) _buffer = new float[n];
                var id = Guid.NewGuid();
                channel.Expect(id, Self, _buffer);
                Sender.Tell(id.ToString());
            });
            Receive<BulkTransferReceived>(_ => { });
            Receive<BulkTransferFailed>(f => Console.Error.WriteLine($"bulk transfer {f.TransferId} failed: {f.Reason}"));
        }
    }

    /// <summary>
    /// The child process:
    ///   exchange-peer [--frame-kb 1024] [--chunk-mb 4] [--send-to host:port --send-bytes N [--stall-after-bytes M]]
    /// Prints "ready raw=PORT bulk=HOST:PORT akka=ADDRESS" and serves until stdin closes. With --send-to it also sends
    /// N bytes on topic "gradient" to that BulkChannel and, after M bytes, prints "stalled" and hangs mid-transfer (for
    /// the kill test in tests/Cluster.Tests/Transport).
    /// </summary>
    public static int RunPeer(string[] args)
    {
        var a = new BenchArgs(args, "--frame-kb", "--chunk-mb", "--socket-buffer-kb", "--send-to", "--send-bytes", "--stall-after-bytes", "--tls-dir");
        int frameKb = a.Int("--frame-kb", 1024), chunkMb = a.Int("--chunk-mb", 4), socketKb = SocketKb(a);
        using var tls = a.String("--tls-dir") is { } tlsDir ? MiniMind.Cluster.Security.ClusterCredentials.Load(Path.Combine(tlsDir, "peer.pfx")) : null;
        using var system = ActorSystem.Create("exchange-peer", RemoteConfig(chunkMb));
        system.ActorOf(Props.Create(() => new Sink()), "sink");
        var channel = BulkChannel.Start(new BulkChannelOptions { FrameBytes = frameKb * 1024, SocketBufferBytes = socketKb * 1024, Tls = tls }, system.Log);
        channel.Subscribe(Topic, system.ActorOf(Props.Create(() => new BulkSink(channel)), "bulk-sink"));
        // (d): the training transport on a channel of its own (the topic above stays the bench's), as on a cluster node.
        var gradients = BulkChannel.Start(new BulkChannelOptions { FrameBytes = frameKb * 1024, SocketBufferBytes = socketKb * 1024, Tls = tls }, system.Log);
        BulkGradientTransport.Install(system, gradients);
        system.ActorOf(Props.Create(() => new GradientSink()), "gradient-sink");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(() => ServeRaw(listener));
        var akka = ((ExtendedActorSystem)system).Provider.DefaultAddress;
        Console.WriteLine($"ready raw={((IPEndPoint)listener.LocalEndpoint).Port} bulk={channel.Endpoint} akka={akka} gradients={gradients.Endpoint}");
        Console.Out.Flush();
        if (a.String("--send-to") is { } target)
        {
            var total = long.Parse(a.Required("--send-bytes"), CultureInfo.InvariantCulture);
            var stallAfter = a.String("--stall-after-bytes") is { } s ? long.Parse(s, CultureInfo.InvariantCulture) : long.MaxValue;
            var payload = new byte[total];
            channel.SendAsync(BulkEndpoint.Parse(target), new BulkHeader(Guid.NewGuid(), Topic), payload, progress: sent =>
            {
                if (sent < stallAfter) return;
                Console.WriteLine("stalled");
                Console.Out.Flush();
                Thread.Sleep(Timeout.Infinite);
            }).GetAwaiter().GetResult();
            Console.WriteLine("sent");
        }
        while (Console.In.ReadLine() is not null) { }
        channel.DisposeAsync().AsTask().GetAwaiter().GetResult();
        gradients.DisposeAsync().AsTask().GetAwaiter().GetResult();
        listener.Stop();
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return 0;
    }

    static void ServeRaw(TcpListener listener)
    {
        try
        {
            using var client = listener.AcceptTcpClient();
            client.NoDelay = true;
            var stream = client.GetStream();
            var length = new byte[8];
            byte[] buffer = [];
            while (true)
            {
                stream.ReadExactly(length);
                var n = BinaryPrimitives.ReadInt64LittleEndian(length);
                if (buffer.Length < n) buffer = new byte[n];
                stream.ReadExactly(buffer.AsSpan(0, (int)n));
                stream.WriteByte(1);
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or SocketException or ObjectDisposedException) { }
    }

    /// <summary>This bench executable started again as a child process (apphost, or `dotnet minimind-bench.dll`).</summary>
    sealed class Peer : IDisposable
    {
        readonly List<string> _lines = [];

        Peer(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) { _lines.Add(e.Data); Monitor.PulseAll(_lines); } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"peer: {e.Data}"); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public static Peer Start(string args)
        {
            var exe = Environment.ProcessPath ?? "dotnet";
            var psi = Path.GetFileNameWithoutExtension(exe) == "dotnet"
                ? new ProcessStartInfo(exe, $"\"{typeof(ExchangeBench).Assembly.Location}\" {args}")
                : new ProcessStartInfo(exe, args);
            psi.RedirectStandardInput = psi.RedirectStandardOutput = psi.RedirectStandardError = true;
            return new Peer(Process.Start(psi) ?? throw new InvalidOperationException("cannot start the exchange peer"));
        }

        public string WaitForLine(string prefix, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            lock (_lines)
            {
                while (true)
                {
                    var line = _lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                    if (line is not null) return line;
                    if (Process.HasExited) throw new InvalidOperationException($"exchange peer exited with {Process.ExitCode} before printing '{prefix}'");
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new TimeoutException($"exchange peer did not print '{prefix}' within {timeout}");
                    Monitor.Wait(_lines, TimeSpan.FromMilliseconds(Math.Min(left.TotalMilliseconds, 200)));
                }
            }
        }

        public void Stop()
        {
            Process.StandardInput.Close();
            if (!Process.WaitForExit(TimeSpan.FromSeconds(15))) Process.Kill(entireProcessTree: true);
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
