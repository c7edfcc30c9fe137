using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniMind.Model;

namespace MiniMind.Cli.Serve;

/// <summary>How the server listens and what a request gets when it does not say.</summary>
/// <param name="Port">0 picks a free port (see <see cref="ChatServer.Address"/>).</param>
public sealed record ServeSettings(string Host = "127.0.0.1", int Port = 8998, string ModelName = "minimind", int DefaultMaxTokens = 8192,
    double DefaultTemperature = 0.85, double DefaultTopP = 0.85, int TorchThreads = 0);

/// <summary>
/// An OpenAI-compatible endpoint over one <see cref="ChatModel"/> (MiniMind's scripts/serve_openai_api.py):
/// <c>POST /v1/chat/completions</c> (JSON, or server-sent <c>chat.completion.chunk</c> events ending with
/// <c>data: [DONE]</c> when <c>stream</c> is true) and <c>GET /v1/models</c>. Bad requests get 400 and unknown
/// routes 404, both with OpenAI's error JSON. The model runs on one <see cref="ModelWorker"/> thread: concurrent
/// requests are accepted and answered one at a time, in arrival order.
/// </summary>
public sealed class ChatServer : IAsyncDisposable
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    readonly WebApplication app;
    readonly ModelWorker worker;
    readonly ChatModel chat;
    readonly ServeSettings settings;
    readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    ChatServer(WebApplication app, ModelWorker worker, ChatModel chat, ServeSettings settings)
    {
        this.app = app;
        this.worker = worker;
        this.chat = chat;
        this.settings = settings;
    }

    /// <summary>The base address actually bound, e.g. http://127.0.0.1:8998.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Binds, maps the routes and starts listening; the model must not be used elsewhere until disposal.</summary>
    public static async Task<ChatServer> StartAsync(ChatModel chat, ServeSettings settings, bool logToStderr = false, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        if (logToStderr) builder.Logging.AddProvider(new MiniMind.Cluster.StderrLoggerProvider()).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(k =>
        {
            if (settings.Host is "localhost") k.ListenLocalhost(settings.Port);
            else k.Listen(IPAddress.Parse(settings.Host), settings.Port);
        });
        // No ConsoleLifetime: the CLI owns Ctrl+C / SIGTERM (System.CommandLine's token), and in-process hosts own theirs.
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        var app = builder.Build();
        var server = new ChatServer(app, new ModelWorker(settings.TorchThreads), chat, settings);
        app.MapPost("/v1/chat/completions", server.CompletionsAsync);
        app.MapGet("/v1/models", () => Results.Json(new ModelList("list", [new ModelCard(settings.ModelName, "model", server.created, "minimind")])));
        app.MapFallback((HttpContext http) => Error(StatusCodes.Status404NotFound,
            $"unknown route {http.Request.Method} {http.Request.Path}: this server has POST /v1/chat/completions and GET /v1/models", "invalid_request_error", null, "not_found"));
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    /// <summary>Runs <paramref name="func"/> on the model thread (tests read its dispose-scope statistics).</summary>
    internal Task<T> OnModelThreadAsync<T>(Func<T> func) => worker.RunAsync(func);

    /// <summary>Cancelled when the host begins to stop.</summary>
    public CancellationToken Stopping => app.Lifetime.ApplicationStopping;

    sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    async Task CompletionsAsync(HttpContext http)
    {
        var ct = http.RequestAborted;
        ChatRequest request;
        GenerationOptions options;
        try
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, ct);
            request = ChatRequest.Parse(body.ToArray());
            var promptTokens = chat.EncodePrompt(request.Messages).Length;
            var room = chat.Model.Config.MaxPositionEmbeddings - promptTokens;
            if (room <= 0)
                throw new ChatRequestException($"the prompt has {promptTokens} tokens; the model's context is {chat.Model.Config.MaxPositionEmbeddings}", "messages");
            var temperature = request.Temperature ?? settings.DefaultTemperature;
            options = new GenerationOptions
            {
                MaxNewTokens = Math.Min(request.MaxTokens ?? settings.DefaultMaxTokens, room),
                Greedy = temperature == 0,
                Temperature = temperature,
                TopP = request.TopP ?? settings.DefaultTopP,
                Seed = request.Seed,
                EosTokenId = chat.Model.Config.EosTokenId,
            };
        }
        catch (ChatRequestException e)
        {
            await Error(StatusCodes.Status400BadRequest, e.Message, "invalid_request_error", e.Param, null).ExecuteAsync(http);
            return;
        }
        catch (MiniMind.Model.Tokenizer.ChatTemplateException e)
        {
            await Error(StatusCodes.Status400BadRequest, e.Message, "invalid_request_error", "messages", null).ExecuteAsync(http);
            return;
        }

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var usage = new ChatUsage();
        var pieces = Generate(request, options, usage, ct);
        if (!request.Stream)
        {
            var text = new System.Text.StringBuilder();
            await foreach (var piece in pieces.ReadAllAsync(ct)) text.Append(piece);
            await Results.Json(new ChatCompletion(id, "chat.completion", now, settings.ModelName,
                [new ChatChoice(0, new ChatDelta("assistant", text.ToString()), null, usage.FinishReason)], UsageOf(usage)), Json).ExecuteAsync(http);
            return;
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        async Task Send(object chunk)
        {
            await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk, Json) + "\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        ChatCompletion Chunk(ChatDelta delta, string? finish) =>
            new(id, "chat.completion.chunk", now, settings.ModelName, [new ChatChoice(0, null, delta, finish)], null);
        await Send(Chunk(new ChatDelta("assistant", ""), null));
        await foreach (var piece in pieces.ReadAllAsync(ct)) await Send(Chunk(new ChatDelta(null, piece), null));
        await Send(Chunk(new ChatDelta(null, null), usage.FinishReason));
        if (request.IncludeUsage) await Send(new ChatCompletion(id, "chat.completion.chunk", now, settings.ModelName, [], UsageOf(usage)));
        await http.Response.WriteAsync("data: [DONE]\n\n", ct);
    }

    /// <summary>Queues the reply on the model thread; its text pieces arrive on the returned channel, which completes
    /// (with the generation's exception, if any) after <paramref name="usage"/> is filled in.</summary>
    ChannelReader<string> Generate(ChatRequest request, GenerationOptions options, ChatUsage usage, CancellationToken ct)
    {
        var channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        worker.Post(() =>
        {
            try
            {
                if (!ct.IsCancellationRequested)
                    foreach (var piece in chat.Stream(request.Messages, options, usage))
                    {
                        if (ct.IsCancellationRequested) break;                    // the client went away: free the model
                        channel.Writer.TryWrite(piece);
                    }
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
            }
        });
        return channel.Reader;
    }

    static Usage UsageOf(ChatUsage u) => new(u.PromptTokens, u.CompletionTokens, u.PromptTokens + u.CompletionTokens);

    static IResult Error(int status, string message, string type, string? param, string? code) =>
        Results.Json(new ApiError(new ApiErrorBody(message, type, param, code)), Json, statusCode: status);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        worker.Dispose();
    }
}
