using System.CommandLine;
using System.Net;

namespace MiniMind.Cli.Serve;

/// <summary><c>minimind serve</c>: an OpenAI-compatible HTTP endpoint over trained weights (MiniMind's serve_openai_api.py).</summary>
public static class ServeCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new RunModelOptions();
        var host = new Option<string>("--host") { Description = "Address to bind: an IP or localhost. Default: 127.0.0.1 (loopback only; use 0.0.0.0 to expose it).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port; 0 picks a free one (printed). Default: 8998 (MiniMind's).", DefaultValueFactory = _ => 8998 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of a request that gives none (the context also limits it). Default: 8192.", DefaultValueFactory = _ => 8192 };
        var name = new Option<string?>("--model-name") { Description = "Model id reported by /v1/models and in responses. Default: the weights' file name without .pth." };
        var cmd = new Command("serve", "Serve the weights over HTTP, OpenAI-style: POST /v1/chat/completions (JSON, or SSE chunks with \"stream\": true, " +
            "ending with data: [DONE]; temperature (0 = greedy), top_p, max_tokens, seed honoured; usage counted) and GET /v1/models. " +
            "Requests are answered one at a time on a single model thread, in arrival order. Prints 'listening on <url>' and runs until Ctrl+C.\n\n" +
            "Examples:\n  minimind serve --run-dir runs/default --model-mode 1 --port 8998\n" +
            "  curl http://127.0.0.1:8998/v1/chat/completions -H 'Content-Type: application/json' \\\n" +
            "       -d '{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"stream\":true}'");
        model.AddTo(cmd);
        foreach (var o in new Option[] { host, port, maxTokens, name }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) => CommandRunner.RunAsync(ctx, async () =>
        {
            var h = parse.GetValue(host)!;
            if (h != "localhost" && !IPAddress.TryParse(h, out _)) throw new ArgumentException($"--host '{h}': give an IP address or localhost");
            var p = parse.GetValue(port);
            if (p is < 0 or > 65535) throw new ArgumentException($"--port {p}: must be in 0..65535");
            var max = parse.GetValue(maxTokens);
            if (max < 1) throw new ArgumentException($"--max-tokens {max}: must be at least 1");
            using var run = model.Load(parse);
            var settings = new ServeSettings(h, p, parse.GetValue(name) ?? Path.GetFileNameWithoutExtension(run.Weights), max, TorchThreads: parse.GetValue(model.Threads));
            ctx.Error.WriteLine($"model: {run.Describe()}");
            ctx.Error.WriteLine(run.DescribeDType());
            await using var server = await ChatServer.StartAsync(run.Chat, settings, logToStderr: true, ct);
            ctx.Out.WriteLine($"listening on {server.Address.GetLeftPart(UriPartial.Authority)}");
            ctx.Out.Flush();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct, server.Stopping);
            // Ctrl+C / SIGTERM: stop accepting, let Kestrel finish, exit 0.
            using var signals = StopSignals.OnEach(stop.Cancel);
            try { await Task.Delay(Timeout.Infinite, stop.Token); }
            catch (OperationCanceledException) { }
            ctx.Error.WriteLine("shutting down");
            return ExitCode.Ok;
        }));
        return cmd;
    }
}
