using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using MiniMind.Cluster.Control;

namespace MiniMind.Cli.Commands;

/// <summary><c>minimind ctl --host &lt;control&gt; …</c>: talks to a seed node's control endpoint (HTTP/JSON).
/// <c>train start &lt;stage&gt; &lt;train flags&gt;</c> prints the run id; <c>train status [--run id] [--wait]</c> shows the
/// run and, with --wait, follows it and exits 0 when it completes (1 if it failed or was stopped).</summary>
public static class CtlCommand
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Command Create(CliContext ctx)
    {
        var host = new Option<string>("--host")
        {
            Description = $"The seed's control endpoint host:port. Default: {NodeCommands.DefaultControl}.",
            DefaultValueFactory = _ => NodeCommands.DefaultControl,
            Recursive = true,
        };
        var token = new Option<string?>("--token") { Description = "Access token for the control endpoint (sent as a Bearer token).", Recursive = true };
        var ca = new Option<string?>(CaOption)
        {
            Description = "HTTPS: verify the endpoint's certificate against this cluster CA (ca.crt, or the directory of `node init-secrets`). " +
                          "Needed for a node started with --cluster-cert. Default: $MINIMIND_CLUSTER_CA, else plain HTTP.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MINIMIND_CLUSTER_CA") is { Length: > 0 } v ? v : null,
            Recursive = true,
        };
        var pin = new Option<string?>(PinOption)
        {
            Description = "HTTPS: accept only the endpoint certificate with this SHA-256 fingerprint (hex, as `seed up` prints it) instead of --ca.",
            Recursive = true,
        };
        var secret = new Option<string?>(SecretOption)
        {
            Description = "HTTPS: verify the endpoint's certificate against the cluster CA derived from this cluster secret (a file or env:VAR, " +
                          "as the node's --cluster-secret) instead of --ca.",
            Recursive = true,
        };
        var ctl = new Command("ctl", "Control a running cluster through the seed's control endpoint.") { host, token, ca, pin, secret };
        var train = new Command("train", "Training runs on the cluster.");
        train.Subcommands.Add(Start(ctx, host, token));
        train.Subcommands.Add(Status(ctx, host, token));
        ctl.Subcommands.Add(train);
        Ctl.CtlVerbs.AddTo(ctl, train, ctx, host, token);   // issue 7: pbm's verbs
        // No verb: an interactive shell (pbm-like), reading verbs from stdin.
        ctl.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, () =>
            Ctl.CtlShell.RunAsync(ctx, Console.In, !Console.IsInputRedirected, NodeCommands.CheckHostPort(parse.GetValue(host)!, "--host"), parse.GetValue(token), ct,
                [.. TlsArgs(parse, ca), .. TlsArgs(parse, pin), .. TlsArgs(parse, secret)])));
        return ctl;
    }

    const string CaOption = "--ca";
    const string PinOption = "--pin";
    const string SecretOption = "--cluster-secret";

    /// <summary>A TLS option as the shell passes it on to each verb: [name, value], or nothing.</summary>
    static string[] TlsArgs(ParseResult parse, Option<string?> option) => parse.GetValue(option) is { } v ? [option.Name, v] : [];

    internal static HttpClient Client(ParseResult parse, Option<string> host, Option<string?> token)
    {
        var h = NodeCommands.CheckHostPort(parse.GetValue(host)!, "--host");
        var tls = ControlTls.From(parse.GetValue<string?>(CaOption), parse.GetValue<string?>(PinOption), parse.GetValue<string?>(SecretOption));
        var client = tls is null ? new HttpClient() : new HttpClient(tls.Handler(), disposeHandler: true);
        client.BaseAddress = new Uri($"{(tls is null ? "http" : "https")}://{h}/");
        client.Timeout = TimeSpan.FromSeconds(30);
        if (parse.GetValue(token) is { Length: > 0 } t) client.DefaultRequestHeaders.Authorization = new("Bearer", t);
        return client;
    }

    static Command Start(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var stage = new Argument<string>("stage") { Description = "pretrain or sft; the flags that follow are those of `minimind train <stage>`." };
        var cmd = new Command("start", "Start a training stage on the cluster; prints the run id.") { stage };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = Client(parse, host, token);
            // the flags of `minimind train <stage>` → the typed request the node resolves (as the HTTP API's JSON)
            var body = TrainStageCommands.ParseRequest(parse.GetValue(stage)!, [.. parse.UnmatchedTokens]).ToJson();
            using var response = await Send(client, c => c.PostAsync("api/train/start", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct));
            if (!response.IsSuccessStatusCode) throw await Failure(response, ct);
            var started = await response.Content.ReadFromJsonAsync<TrainRoutes.StartResponse>(Json, ct) ?? throw new InvalidDataException("empty reply");
            ctx.Out.WriteLine(started.RunId);
            return ExitCode.Ok;
        }));
        return cmd;
    }

    static Command Status(CliContext ctx, Option<string> host, Option<string?> token)
    {
        var run = new Option<string?>("--run") { Description = "Run id. Default: the newest run." };
        var wait = new Option<bool>("--wait") { Description = "Follow the run until it ends: exit 0 when it completed, 1 when it was stopped or failed unexpectedly, and train's exit code for a failure caused by input (3: bad data, 2: settings conflicting with the run dir, 4: output not writable)." };
        var timeout = new Option<double>("--timeout") { Description = "With --wait: give up after this many seconds (0 = never). Default: 0.", DefaultValueFactory = _ => 0 };
        var cmd = new Command("status", "Show a run's progress (stage, step, loss, lr, tokens/s, outcome).") { run, wait, timeout };
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            using var client = Client(parse, host, token);
            var url = "api/train/status" + (parse.GetValue(run) is { } id ? $"?run={Uri.EscapeDataString(id)}" : "");
            if (!parse.GetValue(wait))
            {
                var s = await Fetch(client, url, ct);
                ctx.Out.WriteLine(Line(s));
                return ExitCode.Ok;
            }
            var limit = parse.GetValue(timeout);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string? last = null;
            var unreachable = false;
            var seenEvents = new HashSet<string>();
            while (true)
            {
                TrainRoutes.TrainStatus? s = null;
                try
                {
                    s = await Fetch(client, url, ct);
                    unreachable = false;
                }
                catch (CliException e) when (e.Code == ExitCode.Error && e.Message.StartsWith("cannot reach", StringComparison.Ordinal))
                {
                    // The seed may be restarting (it resumes the run from its journal): keep waiting.
                    if (!unreachable) ctx.Error.WriteLine($"warning: {e.Message}; still waiting");
                    unreachable = true;
                }
                if (s is not null)
                {
                    foreach (var e in s.Events ?? [])
                        if (seenEvents.Add(e)) ctx.Out.WriteLine($"event: {e}");
                    var line = Line(s);
                    if (line != last) ctx.Out.WriteLine(line);
                    ctx.Out.Flush();
                    last = line;
                    if (s.State != "running")
                    {
                        if (s.State == "completed") return ExitCode.Ok;
                        throw new CliException(s.State == "failed" ? FailureExit.For(s.Failure) : ExitCode.Error, $"run {s.RunId} {s.State}: {s.Message}");
                    }
                }
                if (limit > 0 && clock.Elapsed.TotalSeconds > limit)
                    throw new CliException(ExitCode.Error, $"timed out after {limit:0} s waiting for the run to end");
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }));
        return cmd;
    }

    static string Line(TrainRoutes.TrainStatus s)
    {
        var loss = s.Loss is { } l ? l.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
        var end = s.Outcome is null ? "" : $" | {s.Message}";
        return FormattableString.Invariant($"run {s.RunId} | {s.Stage} | {s.State} | step {s.Step}/{s.Total} | loss {loss} | lr {s.Lr:0.000e+00} | {s.TokensPerSecond:0} tok/s ({s.LossTokensPerSecond:0} loss tok/s) | workers {s.Workers}{end}");
    }

    static async Task<TrainRoutes.TrainStatus> Fetch(HttpClient client, string url, CancellationToken ct)
    {
        using var response = await Send(client, c => c.GetAsync(url, ct));
        if (!response.IsSuccessStatusCode) throw await Failure(response, ct);
        return await response.Content.ReadFromJsonAsync<TrainRoutes.TrainStatus>(Json, ct) ?? throw new InvalidDataException("empty reply");
    }

    internal static async Task<HttpResponseMessage> Send(HttpClient client, Func<HttpClient, Task<HttpResponseMessage>> send)
    {
        try
        {
            return await send(client);
        }
        catch (HttpRequestException e) when (ControlTls.Refusal(e) is { } refusal)
        {
            throw new CliException(ExitCode.Error, $"cannot reach the control endpoint {client.BaseAddress}: {refusal}");
        }
        catch (HttpRequestException e)
        {
            var hint = client.BaseAddress?.Scheme == "http"
                ? " HINT: is `minimind node seed` running with this --control? A node started with --cluster-cert or --cluster-secret serves HTTPS: pass --ca <ca.crt>, --cluster-secret <file|env:VAR> (or --pin)."
                : " HINT: is `minimind node seed` running with this --control and --cluster-cert or --cluster-secret?";
            throw new CliException(ExitCode.Error, $"cannot reach the control endpoint {client.BaseAddress} ({e.Message}).{hint}");
        }
    }

    internal static async Task<CliException> Failure(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        string message;
        try { message = JsonSerializer.Deserialize<TrainRoutes.ErrorResponse>(text, Json)?.Error ?? text; }
        catch (JsonException) { message = text; }
        var code = (int)response.StatusCode is 400 or 401 or 404 or 409 ? ExitCode.ArgumentError : ExitCode.Error;
        if ((int)response.StatusCode == 401) message += " HINT: pass the node's --control-token as --token.";
        return new CliException(code, $"{(int)response.StatusCode} {response.ReasonPhrase}: {message}");
    }
}
