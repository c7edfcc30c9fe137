using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using MiniMind.Actors.Rl;
using MiniMind.Model.Tokenizer;
using Xunit;

namespace MiniMind.Actors.Tests.Rl;

/// <summary>The external reward model's protocol against a local fake (HttpListener): scores clamped to ±3; a service
/// that goes down makes the call wait (log lines, circuit open, few requests) and it continues when the service is back;
/// a protocol error fails at once naming the URL.</summary>
public sealed class HttpRewardModelTests : IDisposable
{
    readonly int port = FreePort.Pick();
    readonly ConcurrentQueue<string> bodies = new();
    HttpListener? listener;
    Func<JsonElement, (int Status, string Body)> answer = req =>
        (200, JsonSerializer.Serialize(new { scores = req.GetProperty("items").EnumerateArray().Select((_, i) => i == 0 ? 10.0 : -0.5 * i).ToArray() }));

    Uri Url => new($"http://127.0.0.1:{port}/score");

    void Up()
    {
        listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var l = listener;
        _ = Task.Run(async () =>
        {
            while (l.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await l.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
                var body = await new StreamReader(ctx.Request.InputStream, Encoding.UTF8).ReadToEndAsync();
                bodies.Enqueue(body);
                using var doc = JsonDocument.Parse(body);
                var (status, text) = answer(doc.RootElement);
                ctx.Response.StatusCode = status;
                var bytes = Encoding.UTF8.GetBytes(text);
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
        });
    }

    void Down()
    {
        listener?.Stop();
        listener?.Close();
        listener = null;
    }

    public void Dispose() => Down();

    static readonly IReadOnlyList<ChatMessage> Messages = [new("system", "You are a helpful assistant"), new("user", "Who are you?")];
    static readonly RewardItem[] Items = [new(Messages, "<think>me</think>\nI am MiniMind."), new(Messages, "A model."), new(Messages, "Hi")];

    static readonly HttpRewardOptions Fast = new(TimeSpan.FromSeconds(2), FailuresToOpen: 2, RetryDelay: TimeSpan.FromMilliseconds(100),
        OpenFor: TimeSpan.FromMilliseconds(300), MaxOpenFor: TimeSpan.FromSeconds(1));

    [Fact]
    public void Scores_come_back_in_order_clamped_to_three_and_the_request_carries_messages_and_answer()
    {
        Up();
        using var model = new HttpRewardModel(Url, options: Fast);
        Assert.Equal([3f, -0.5f, -1f], model.Score(Items));
        using var doc = JsonDocument.Parse(Assert.Single(bodies));
        var first = doc.RootElement.GetProperty("items")[0];
        Assert.Equal("I am MiniMind.", first.GetProperty("response").GetString());      // the answer after </think>
        Assert.Equal("user", first.GetProperty("messages")[1].GetProperty("role").GetString());
        Assert.Equal("Who are you?", first.GetProperty("messages")[1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_service_that_goes_down_makes_the_run_wait_and_it_continues_when_the_service_is_back()
    {
        Up();
        var log = new ConcurrentQueue<string>();
        using var model = new HttpRewardModel(Url, log.Enqueue, Fast);
        model.Score(Items);
        Down();

        var before = model.Requests;
        var scoring = Task.Run(() => model.Score(Items), TestContext.Current.CancellationToken);
        await Poll.Until(() => log.Any(l => l.Contains("circuit open; the run waits for it", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), "the circuit to open");
        await Task.Delay(2000, TestContext.Current.CancellationToken);
        Assert.False(scoring.IsCompleted, "scored without the service");
        Assert.True(model.CircuitOpen);
        var sentWhileDown = model.Requests - before;
        Assert.InRange(sentWhileDown, 2, 10);                            // back-off: a handful of probes, not a busy loop
        Assert.All(log, l => Assert.Contains($"reward service {Url} unavailable", l));

        Up();
        var scores = await scoring.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        Assert.Equal([3f, -0.5f, -1f], scores);
        Assert.Contains(log, l => l.StartsWith($"reward service {Url} is back after", StringComparison.Ordinal));
        Assert.False(model.CircuitOpen);
    }

    [Theory]
    [InlineData(400, "{}", "answered 400")]
    [InlineData(200, "{\"scores\":[1]}", "1 scores for 3 items")]
    [InlineData(200, "{\"score\":1}", "no \"scores\" array")]
    [InlineData(200, "{\"scores\":[1,\"x\",2]}", "scores[1] is not a finite number")]
    public void A_protocol_error_fails_at_once_naming_the_url(int status, string body, string message)
    {
        answer = _ => (status, body);
        Up();
        using var model = new HttpRewardModel(Url, options: Fast);
        var e = Assert.Throws<RewardProtocolException>(() => model.Score(Items));
        Assert.Contains(Url.ToString(), e.Message);
        Assert.Contains(message, e.Message);
        Assert.Equal(1, model.Requests);
    }
}
