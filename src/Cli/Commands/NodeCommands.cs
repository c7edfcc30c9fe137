using System.CommandLine;
using MiniMind.Actors;
using MiniMind.Cluster;
using MiniMind.Cluster.Nodes;
using MiniMind.Cluster.Security;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind node seed|worker</c>: cluster nodes (issue 5). The seed is the cluster's first member, hosts
/// the coordinator singleton (run manager + the active run's coordinator, journal, checkpoints) and the control
/// endpoint; workers join it and compute micro-batches. Both run until Ctrl+C/SIGTERM (a worker then leaves the
/// cluster gracefully; its micro-batches go to the others).</summary>
public static class NodeCommands
{
    public const string DefaultControl = "127.0.0.1:5470";

    public static Command Create(CliContext ctx)
    {
        var node = new Command("node", "Run a cluster node: the seed (coordinator + control endpoint) or a worker.");
        node.Subcommands.Add(Seed(ctx));
        node.Subcommands.Add(Worker(ctx));
        node.Subcommands.Add(InitSecrets(ctx));
        return node;
    }

    /// <summary>True when the parsed command drains itself on Ctrl+C (System.CommandLine must not force an exit).</summary>
    public static bool HandlesCtrlC(ParseResult parse) =>
        parse.CommandResult.Parent is System.CommandLine.Parsing.CommandResult { Command.Name: "node" };

    static Option<string> Host() => new("--host") { Description = "Address this node binds and advertises to the cluster. Default: 127.0.0.1.", DefaultValueFactory = _ => "127.0.0.1" };
    static Option<string> Timing() => new("--failure-detector")
    {
        Description = "long-run (heartbeat pause 15 s, split-brain resolver stable after 20 s) or fast (3 s / 3 s, for tests). Default: long-run.",
        DefaultValueFactory = _ => "long-run",
    };
    internal static Option<string?> ControlToken() => new("--control-token")
    {
        Description = "Access token of the control endpoint; required when --control is not a loopback address (every request must then send it). Default: $MINIMIND_CONTROL_TOKEN, else none.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MINIMIND_CONTROL_TOKEN"),
    };
    static Option<int> BulkPort() => new("--bulk-port")
    {
        Description = "TCP port of the bulk channel that carries gradients between nodes (bound on --host; 0 = any free port). Default: 0.",
        DefaultValueFactory = _ => 0,
    };
    static Option<string?> ClusterCert() => new("--cluster-cert")
    {
        Description = "The cluster certificates: a directory from `node init-secrets` (its node.pfx and ca.crt) or a node's .pfx (ca.crt next to it). " +
                      "Akka.Remote and the bulk channel then speak mutual TLS and admit only peers of the cluster CA; the control endpoint serves HTTPS. " +
                      "Required when --host is not a loopback address (or --cluster-secret, or --insecure). Default: $MINIMIND_CLUSTER_CERT, else none.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MINIMIND_CLUSTER_CERT") is { Length: > 0 } v ? v : null,
    };
    static Option<string?> ClusterSecret() => new("--cluster-secret")
    {
        Description = "The cluster secret instead of certificate files: a file (from `node init-secrets --secret`) or env:VAR (that environment variable), " +
                      "at least 32 characters, the same on every node. The cluster CA is derived from it and this node signs its own certificate at start " +
                      "(its fingerprint changes every start); then as --cluster-cert. Anyone with the secret can join: guard it like a private key.",
    };
    static Option<bool> Insecure() => new("--insecure")
    {
        Description = "Run off loopback without --cluster-cert or --cluster-secret: anyone who reaches the node's ports can join, send gradients and read them. Only on a trusted network.",
    };

    /// <summary>--cluster-cert / --cluster-secret / --insecure (at most one) → the node's security (the --insecure and
    /// group-readable-secret warnings go to stderr once). <paramref name="role"/> names the node certificate a secret signs.</summary>
    static NodeSecurity Security(CliContext ctx, ParseResult parse, Option<string?> cert, Option<string?> secret, Option<bool> insecure, string host, string role)
    {
        var path = parse.GetValue(cert);
        var source = parse.GetValue(secret);
        CommonOptions.AtMostOne(("--cluster-cert", path is not null), ("--cluster-secret", source is not null), ("--insecure", parse.GetValue(insecure)));
        if (path is not null) return new NodeSecurity(ClusterCredentials.Load(path), false);
        if (source is not null)
            return new NodeSecurity(ClusterCredentials.FromSecret(SecretAuthority.Read(source, "--cluster-secret", ctx.Error.WriteLine), source, $"{role}.{Environment.MachineName}"), false);
        if (!parse.GetValue(insecure)) return NodeSecurity.None;
        if (!Cluster.Control.ControlAuth.IsLoopback(host))
            ctx.Error.WriteLine($"warning: --insecure: this node on {host} admits any peer that reaches its ports (no authentication, no encryption)");
        return new NodeSecurity(null, true);
    }

    /// <summary>" | tls (certificate SHA-256 …)" for a node with cluster certificates: the fingerprint `ctl --pin` takes
    /// (with --cluster-secret a new one every start).</summary>
    static string TlsNote(NodeOptions o, ParseResult parse, Option<string?> secret) => o.Security.Credentials is { } c
        ? $" | tls{(parse.GetValue(secret) is null ? "" : " from the cluster secret")} (certificate SHA-256 {c.Fingerprint})"
        : o.Security.Insecure ? " | insecure" : "";

    static Option<int> Threads() => new("--threads") { Description = "Torch threads of this node's worker (0 = the run's --threads). Default: 0.", DefaultValueFactory = _ => 0 };

    static Command Seed(CliContext ctx)
    {
        var port = new Option<int>("--port") { Description = "Akka.Remote port (workers join host:port).", Required = true };
        var control = new Option<string>("--control") { Description = $"Control endpoint host:port (HTTP). Default: {DefaultControl}.", DefaultValueFactory = _ => DefaultControl };
        var journal = new Option<string>("--journal")
        {
            Description = "sqlite:<file> or postgres:<connection string> (use PostgreSQL when the seed may move to another machine); env:<VAR> or file:<path> read the spec from an environment variable or a file (keeps a password off the command line; it is never printed). Default: sqlite:runs/cluster/journal.db.",
            DefaultValueFactory = _ => "sqlite:runs/cluster/journal.db",
        };
        var device = new Option<string?>("--device") { Description = "Also run a training worker on this node: cpu or cuda:N, or several (cuda:0,cuda:1: one replica per device, gradients added up locally). Default: none (coordinate only)." };
        var controlToken = ControlToken();
        var host = Host();
        var timing = Timing();
        var threads = Threads();
        var bulkPort = BulkPort();
        var clusterCert = ClusterCert();
        var clusterSecret = ClusterSecret();
        var insecure = Insecure();
        var cmd = new Command("seed", "Start the seed node: coordinator singleton, journal, checkpoints, control endpoint (and a local worker with --device).")
        {
            port, control, controlToken, journal, device, host, timing, threads, bulkPort, clusterCert, clusterSecret, insecure,
        };
        var alerts = new AlertOptions();
        foreach (var option in alerts.All) cmd.Options.Add(option);
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var options = new NodeOptions
            {
                Alerts = alerts.Rules(parse),
                Host = parse.GetValue(host)!,
                Port = CheckPort(parse.GetValue(port), "--port"),
                BulkPort = BulkPortOf(parse.GetValue(bulkPort)),
                Control = CheckHostPort(parse.GetValue(control)!, "--control", anyPort: true),
                ControlToken = parse.GetValue(controlToken),
                Journal = JournalSpec.Parse(parse.GetValue(journal), "runs/cluster"),
                Device = ParseDevice(parse.GetValue(device)),
                Threads = parse.GetValue(threads),
                Timing = ParseTiming(parse.GetValue(timing)!),
                TrainRequests = new TrainRequests(DefaultPaths.Resolve),
                Hooks = TestHooks.FromEnvironment(),
            };
            options = options with { Security = Security(ctx, parse, clusterCert, clusterSecret, insecure, options.Host, "seed") };
            options.Security.ValidateBinding(options.Host);
            if (options.Device is { } local) DeviceCheck.Validate(local);
            JournalPreflight.ThrowIfDamaged(options.Journal, "<run-dir>");   // exit 3 now, not at some step of some run
            WarmUpTorch(options.Device ?? "cpu");   // the coordinator's replica
            await using var node = await NodeHost.StartAsync(options, ct);
            ctx.Out.WriteLine($"seed up: {node.SelfAddress} | control {node.ControlUrl} | journal {options.Journal.Display} | local worker {options.Device ?? "none"} | bulk {node.BulkEndpoint}{TlsNote(options, parse, clusterSecret)}");
            ctx.Out.Flush();
            var signalled = await WaitForSignalOrTermination(node, ct);
            ctx.Out.WriteLine(signalled ? "seed: shutting down" : "seed: the actor system terminated");
            return signalled ? ExitCode.Ok : ExitCode.Error;
        }));
        return cmd;
    }

    static Command Worker(CliContext ctx)
    {
        var seed = new Option<string>("--seed") { Description = "The seed node's host:port.", Required = true };
        var device = new Option<string>("--device") { Description = "cpu or cuda:N, or several (cuda:0,cuda:1: one replica per device, gradients added up locally before they are sent).", Required = true };
        var port = new Option<int>("--port") { Description = "Akka.Remote port (0 = any free port). Default: 0.", DefaultValueFactory = _ => 0 };
        var host = Host();
        var timing = Timing();
        var threads = Threads();
        var control = new Option<string?>("--control") { Description = "Also serve a control endpoint on this worker at host:port (cluster view, actor tree, metrics; train verbs reach the coordinator). Default: none." };
        var controlToken = ControlToken();
        var bulkPort = BulkPort();
        var clusterCert = ClusterCert();
        var clusterSecret = ClusterSecret();
        var insecure = Insecure();
        var cmd = new Command("worker", "Start a worker node: joins the seed, receives the current weights, computes micro-batches.")
        {
            seed, device, port, host, timing, threads, control, controlToken, bulkPort, clusterCert, clusterSecret, insecure,
        };
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var options = new NodeOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port) == 0 ? 0 : CheckPort(parse.GetValue(port), "--port"),
                BulkPort = BulkPortOf(parse.GetValue(bulkPort)),
                Seed = CheckHostPort(parse.GetValue(seed)!, "--seed"),
                Control = parse.GetValue(control) is { } c ? CheckHostPort(c, "--control", anyPort: true) : null,
                ControlToken = parse.GetValue(controlToken),
                TrainRequests = new TrainRequests(DefaultPaths.Resolve),
                Device = ParseDevice(parse.GetValue(device)),
                Threads = parse.GetValue(threads),
                Timing = ParseTiming(parse.GetValue(timing)!),
                Hooks = TestHooks.FromEnvironment(),
            };
            options = options with { Security = Security(ctx, parse, clusterCert, clusterSecret, insecure, options.Host, "worker") };
            options.Security.ValidateBinding(options.Host);
            DeviceCheck.Validate(options.Device!);
            WarmUpTorch(options.Device!);
            // A worker cut off from the seed is downed by the split-brain resolver (the seed's side survives): it then
            // starts a fresh actor system and joins the seed again, as often as it takes.
            while (true)
            {
                await using var node = await NodeHost.StartAsync(options, ct);
                ctx.Out.WriteLine($"worker up: {node.SelfAddress} ({options.Device}) → seed {options.Seed} | bulk {node.BulkEndpoint}{(node.ControlUrl is { } url ? $" | control {url}" : "")}{TlsNote(options, parse, clusterSecret)}");
                ctx.Out.Flush();
                if (await WaitForSignalOrTermination(node, ct))
                {
                    ctx.Out.WriteLine("worker: leaving the cluster");
                    return ExitCode.Ok;
                }
                ctx.Error.WriteLine("worker: lost the cluster (downed or the seed is gone); rejoining in 2 s");
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        }));
        return cmd;
    }

    static Command InitSecrets(CliContext ctx)
    {
        var output = new Option<string>("--out") { Description = "Directory for ca.crt, ca.key and <node>.pfx, or cluster.secret with --secret (created; every file mode 0600). An existing CA there is reused to add node certificates.", Required = true };
        var nodes = new Option<string[]>("--node")
        {
            Description = "Name of a node certificate to issue (repeatable: one per machine, or one for all). Default: node (node.pfx).",
            AllowMultipleArgumentsPerToken = true,
        };
        var days = new Option<int>("--days") { Description = "Validity of the node certificates in days. Default: 730.", DefaultValueFactory = _ => 730 };
        var secret = new Option<bool>("--secret")
        {
            Description = "Instead of certificates, write one random cluster secret to <out>/cluster.secret (mode 0600; an existing one is kept, not overwritten), for --cluster-secret.",
        };
        var cmd = new Command("init-secrets", "Create the cluster's certificates: a CA (ca.crt, ca.key) and node certificates (<node>.pfx), for --cluster-cert; or with --secret one shared secret, for --cluster-secret.")
        {
            output, nodes, days, secret,
        };
        cmd.SetAction((parse, _) => CommandRunner.RunAsync(ctx, () =>
        {
            if (parse.GetValue(secret))
            {
                if (parse.GetValue(nodes) is { Length: > 0 }) throw new ArgumentException("--secret and --node: pick one (a secret needs no node certificates: every node signs its own)");
                var file = SecretAuthority.Create(parse.GetValue(output)!);
                ctx.Out.WriteLine($"created the cluster secret {file} (mode 0600)");
                ctx.Out.WriteLine($"copy it to each machine (mode 0600) and pass --cluster-secret {file}, or put its content in an environment variable and pass --cluster-secret env:<VAR>; " +
                                  "`ctl --cluster-secret` verifies the control endpoint with it. Anyone who has it can join the cluster");
                return Task.FromResult(ExitCode.Ok);
            }
            var d = parse.GetValue(days);
            if (d < 1) throw new ArgumentException($"--days {d}: expected ≥ 1");
            var created = ClusterSecrets.Create(parse.GetValue(output)!, parse.GetValue(nodes) ?? [], TimeSpan.FromDays(d));
            ctx.Out.WriteLine($"{(created.NewAuthority ? "created the cluster CA" : "reused the cluster CA")} in {created.Directory} (SHA-256 {created.AuthorityFingerprint})");
            foreach (var f in created.NodeFiles) ctx.Out.WriteLine($"node certificate: {f}");
            ctx.Out.WriteLine("copy ca.crt and a node's .pfx to each machine (mode 0600) and pass --cluster-cert <that .pfx or dir>; keep ca.key where certificates are issued");
            return Task.FromResult(ExitCode.Ok);
        }));
        return cmd;
    }

    /// <summary>True on Ctrl+C/SIGTERM/cancellation, false when the node's actor system terminated by itself.</summary>
    static async Task<bool> WaitForSignalOrTermination(NodeHost node, CancellationToken ct)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var signals = StopSignals.OnEach(() => signal.TrySetResult());
        using var reg = ct.Register(() => signal.TrySetResult());
        var first = await Task.WhenAny(signal.Task, node.Terminated);
        return first == signal.Task;
    }

    /// <summary>Loads libtorch now rather than when the first run's snapshot arrives (seconds on a busy machine).</summary>
    /// <summary>Also checks each device (an absent GPU fails here, naming it, not when the first run arrives).</summary>
    static void WarmUpTorch(string devices)
    {
        foreach (var device in Model.DeviceList.Parse(devices))
        {
            using var t = TorchSharp.torch.zeros(1, device: Model.TorchRuntime.ParseDevice(device));
        }
    }

    static string? ParseDevice(string? device) => device is null ? null : Model.DeviceList.Normalize(device);

    static FailureTiming ParseTiming(string value) => value switch
    {
        "long-run" => FailureTiming.LongRun,
        "fast" => FailureTiming.Fast,
        _ => throw new ArgumentException($"--failure-detector {value}: expected long-run or fast"),
    };

    static int BulkPortOf(int port) => port == 0 ? 0 : CheckPort(port, "--bulk-port");

    static int CheckPort(int port, string option) =>
        port is > 0 and < 65536 ? port : throw new ArgumentException($"{option} {port}: expected a TCP port (1-65535)");

    /// <summary>A host:port value in its canonical spelling: <c>host:port</c>, <c>1.2.3.4:port</c>, <c>[v6]:port</c>, or
    /// an unbracketed IPv6 address whose last colon separates the port (<c>::1:5470</c>). An IPv4-mapped IPv6 address
    /// (<c>::ffff:127.0.0.1</c>) becomes its IPv4 address; other IPv6 addresses come back bracketed, as URLs need them.
    /// Anything else is an <see cref="ArgumentException"/> naming <paramref name="option"/>. Port 0 (any free port) only
    /// with <paramref name="anyPort"/>.</summary>
    internal static string CheckHostPort(string value, string option, bool anyPort = false)
    {
        ArgumentException Bad(string why) => new($"{option} {value}: {why}");
        var v = value.Trim();
        string host, port;
        if (v.StartsWith('['))
        {
            var close = v.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw Bad("expected [IPv6 address]:port (no closing ']')");
            if (close + 1 >= v.Length || v[close + 1] != ':') throw Bad("expected [IPv6 address]:port (no port after ']')");
            (host, port) = (v[1..close], v[(close + 2)..]);
            if (!System.Net.IPAddress.TryParse(host, out var inBrackets) || inBrackets.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                throw Bad($"'{host}' is not an IPv6 address");
        }
        else
        {
            var i = v.LastIndexOf(':');
            if (i <= 0) throw Bad("expected host:port");
            (host, port) = (v[..i], v[(i + 1)..]);
            if (host.Contains(':') && !System.Net.IPAddress.TryParse(host, out _))
                throw Bad($"'{host}' is not an IPv6 address (write [address]:port)");
        }
        if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) || p > 65535 || (p == 0 && !anyPort))
            throw Bad($"'{port}' is not a TCP port (expected host:port, port 1-65535{(anyPort ? " or 0 for any free port" : "")})");
        if (host.Length == 0) throw Bad("expected host:port (no host)");
        if (System.Net.IPAddress.TryParse(host, out var ip) && host.Contains(':'))
            host = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4().ToString() : $"[{ip}]";
        return $"{host}:{p.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
