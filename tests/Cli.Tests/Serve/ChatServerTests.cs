using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MiniMind.Cli.Serve;
using MiniMind.Model;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Cli.Tests.Serve;

/// <summary>The OpenAI-compatible server, in-process on an ephemeral loopback port, driven by a real HttpClient.</summary>
public sealed class ChatServerTests : IAsyncLifetime
{
    ChatModel chat = null!;
    ChatServer server = null!;
    HttpClient http = null!;

    public async ValueTask InitializeAsync()
    {
        chat = TestRunDir.Load(1);
        server = await ChatServer.StartAsync(chat, new ServeSettings(Port: 0, ModelName: "full_sft_64", DefaultMaxTokens: 16, TorchThreads: 1), ct: TestContext.Current.CancellationToken);
        http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(2) };
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await server.DisposeAsync();
        chat.Model.Dispose();
    }

    static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>What the model answers directly (off the server), for the same sampling.</summary>
    string Expected(string user, int max, int seed, double temperature = 0.85, double topP = 0.85, ChatUsage? usage = null) =>
        chat.Reply([ChatMessage.User(user)], new GenerationOptions
        {
            MaxNewTokens = max, Greedy = temperature == 0, Temperature = temperature, TopP = topP, Seed = seed, EosTokenId = 2,
        }, usage ?? new ChatUsage());

    Task<HttpResponseMessage> Post(string json) =>
        http.PostAsync("/v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"), Ct);

    static string Body(string user, int max, int seed, bool stream = false, string extra = "") =>
        JsonSerializer.Serialize(new { model = "x", messages = new[] { new { role = "user", content = user } }, max_tokens = max, seed, stream, temperature = 0.7, top_p = 0.9 })[..^1] + extra + "}";

    [Fact]
    public async Task A_completion_returns_the_models_answer_with_usage()
    {
        // Expected values are computed before the request: the model is used by one thread at a time.
        var usage = new ChatUsage();
        var expected = Expected("Hello there", 9, seed: 5, temperature: 0.7, topP: 0.9, usage);
        using var response = await Post(Body("Hello there", 9, 5));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = doc.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", root.GetProperty("id").GetString());
        Assert.Equal("full_sft_64", root.GetProperty("model").GetString());
        var choice = root.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(expected, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(usage.FinishReason, choice.GetProperty("finish_reason").GetString());
        var u = root.GetProperty("usage");
        Assert.Equal(usage.PromptTokens, u.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(chat.EncodePrompt([ChatMessage.User("Hello there")]).Length, u.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(usage.CompletionTokens, u.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.PromptTokens + usage.CompletionTokens, u.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Streaming_sends_chunks_whose_deltas_add_up_to_the_answer_and_ends_with_done()
    {
        var usage = new ChatUsage();
        var expected = Expected("Tell me", 12, seed: 3, temperature: 0.7, topP: 0.9, usage);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(Body("Tell me", 12, 3, stream: true, extra: ",\"stream_options\":{\"include_usage\":true}"), Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var events = new List<string>();
        while (await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            events.Add(line["data: ".Length..]);
        }
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var withChoices = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).ToList();
        var text = string.Concat(withChoices.Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.Equal(expected, text);
        Assert.True(withChoices.Count > 3, "the answer came in several chunks");
        Assert.Equal(usage.FinishReason, withChoices[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(usage.CompletionTokens, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Concurrent_requests_are_all_answered_as_if_alone()
    {
        var seeds = Enumerable.Range(1, 6).ToArray();
        var expected = seeds.Select(s => Expected("Hi " + s, 8, s, temperature: 0.7, topP: 0.9)).ToArray();
        var responses = await Task.WhenAll(seeds.Select(async s =>
        {
            using var r = await Post(Body("Hi " + s, 8, s, stream: s % 2 == 0));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            var body = await r.Content.ReadAsStringAsync(Ct);
            if (s % 2 == 1) return JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            return string.Concat(body.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
                .Select(l => JsonDocument.Parse(l[6..]).RootElement.GetProperty("choices"))
                .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
                .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()));
        }));
        Assert.Equal(expected, responses);
    }

    [Fact]
    public async Task Max_tokens_and_greedy_temperature_zero_are_honoured()
    {
        var expected = Expected("Count", 4, seed: 0, temperature: 0);
        using var r = await Post("{\"messages\":[{\"role\":\"user\",\"content\":\"Count\"}],\"max_tokens\":4,\"temperature\":0}");
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct));
        Assert.Equal(expected, doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(4, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("{not json", null, "not valid JSON")]
    [InlineData("[1,2]", null, "must be a JSON object")]
    [InlineData("{}", "messages", "'messages' is required")]
    [InlineData("{\"messages\":[]}", "messages", "at least one message")]
    [InlineData("{\"messages\":\"hi\"}", "messages", "must be an array")]
    [InlineData("{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", "content is required")]
    [InlineData("{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages", "no user message")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", "temperature", "must be a number")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":1.5}", "top_p", "(0, 1]")]
    [InlineData("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", "max_tokens", "at least 1")]
    public async Task Bad_requests_get_400_with_an_openai_error(string body, string? param, string message)
    {
        using var r = await Post(body);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct));
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Unknown_routes_get_404_with_an_openai_error_and_models_lists_the_model()
    {
        using var missing = await http.GetAsync("/v1/engines", Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var doc = JsonDocument.Parse(await missing.Content.ReadAsStringAsync(Ct));
        Assert.Contains("/v1/engines", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
        var models = await http.GetFromJsonAsync<JsonElement>("/v1/models", Ct);
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.Equal("full_sft_64", models.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task Answering_leaves_no_live_tensors_on_the_model_thread()
    {
        long Live() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var warm = await Post(Body("warm up", 4, 1))) Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        var before = await server.OnModelThreadAsync(Live);
        foreach (var stream in new[] { false, true })
            using (var r = await Post(Body("Hello", 10, 2, stream))) await r.Content.ReadAsStringAsync(Ct);
        Assert.Equal(before, await server.OnModelThreadAsync(Live));
    }

    [Fact]
    public void The_server_binds_loopback_by_default() =>
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(server.Address.Host)), server.Address.ToString());
}
