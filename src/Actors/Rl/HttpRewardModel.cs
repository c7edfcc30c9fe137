using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MiniMind.Actors.Rl;

/// <summary>Timeouts and back-off of <see cref="HttpRewardModel"/>.</summary>
/// <param name="Timeout">One request's limit (a batch of one micro-batch's completions).</param>
/// <param name="FailuresToOpen">Consecutive failures that open the circuit.</param>
/// <param name="RetryDelay">The wait after a failure while the circuit is closed.</param>
/// <param name="OpenFor">How long an opened circuit sends nothing (doubled on each failed probe, up to <paramref name="MaxOpenFor"/>).</param>
public sealed record HttpRewardOptions(TimeSpan Timeout, int FailuresToOpen, TimeSpan RetryDelay, TimeSpan OpenFor, TimeSpan MaxOpenFor)
{
    public static HttpRewardOptions Default { get; } = new(TimeSpan.FromSeconds(30), 3, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
}

/// <summary>The service answered, but not in the protocol (a 4xx, a body that is not {"scores": [n numbers]}): retrying
/// cannot help, so the run fails naming the URL and what was wrong.</summary>
public sealed class RewardProtocolException(string message) : Exception(message);

/// <summary>
/// An external reward model over HTTP (<c>--reward-url</c>; README: reward protocol). One POST per micro-batch:
/// <code>{"items": [{"messages": [{"role": "user", "content": "…"}, …], "response": "…"}, …]}  →  {"scores": [0.7, …]}</code>
/// one score per item, in order, each clamped to ±3 (MiniMind's LMForRewardModel.get_score); <c>response</c> is the
/// answer (the text after <c>&lt;/think&gt;</c> when there is one), as MiniMind passes it. A timeout, a refused
/// connection or a 5xx/408/429 is transient: the call waits and retries, and after <see cref="HttpRewardOptions.FailuresToOpen"/>
/// failures in a row the circuit opens (nothing is sent for <see cref="HttpRewardOptions.OpenFor"/>, doubling up to
/// <see cref="HttpRewardOptions.MaxOpenFor"/>, then one probe). The run waits meanwhile (the step does not finish), with a
/// log line when the service goes away, while it stays away, and when it is back; it never scores without the service.
/// Anything else (4xx, a malformed answer) is a <see cref="RewardProtocolException"/>.
/// </summary>
public sealed class HttpRewardModel : IRewardModel
{
    public const double Clamp = 3.0;

    readonly Uri url;
    readonly HttpRewardOptions options;
    readonly Action<string> log;
    readonly HttpClient http;
    int failures;
    TimeSpan openFor;
    long? downSince;

    public HttpRewardModel(Uri url, Action<string>? log = null, HttpRewardOptions? options = null)
    {
        this.url = url;
        this.options = options ?? HttpRewardOptions.Default;
        this.log = log ?? (_ => { });
        http = new HttpClient { Timeout = this.options.Timeout };
        openFor = this.options.OpenFor;
    }

    public string Name => "http";

    /// <summary>The circuit's state, for health: closed (calls go through), or open while the service is away.</summary>
    public bool CircuitOpen => Volatile.Read(ref failures) >= options.FailuresToOpen;

    /// <summary>closed, retrying (failed, fewer than <see cref="HttpRewardOptions.FailuresToOpen"/> times in a row) or open.</summary>
    public string Breaker => CircuitOpen ? "open" : Volatile.Read(ref failures) > 0 ? "retrying" : "closed";

    /// <summary>Requests sent (tests, health).</summary>
    public long Requests => Interlocked.Read(ref requests);
    long requests;

    public float[] Score(IReadOnlyList<RewardItem> items) => ScoreAsync(items, CancellationToken.None).GetAwaiter().GetResult();

    public async Task<float[]> ScoreAsync(IReadOnlyList<RewardItem> items, CancellationToken cancel)
    {
        var body = Body(items);
        while (true)
        {
            string? problem;
            try
            {
                Interlocked.Increment(ref requests);
                using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
                using var response = await http.SendAsync(request, cancel).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    var scores = Parse(await response.Content.ReadAsStringAsync(cancel).ConfigureAwait(false), items.Count);
                    Recovered();
                    return scores;
                }
                if (!Transient(response.StatusCode))
                    throw new RewardProtocolException($"reward service {url} answered {(int)response.StatusCode} {response.ReasonPhrase}: check --reward-url and the protocol (README: reward protocol)");
                problem = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (HttpRequestException e) { problem = e.HttpRequestError == HttpRequestError.Unknown ? e.Message : $"{e.HttpRequestError}: {e.Message}"; }
            catch (TaskCanceledException) when (!cancel.IsCancellationRequested) { problem = $"no answer within {options.Timeout.TotalSeconds:0.#} s"; }
            await Task.Delay(Failed(problem), cancel).ConfigureAwait(false);
        }
    }

    /// <summary>Counts a failure and logs it; returns how long to wait before the next try.</summary>
    TimeSpan Failed(string problem)
    {
        var failed = Interlocked.Increment(ref failures);
        downSince ??= Stopwatch.GetTimestamp();
        TimeSpan wait;
        if (failed < options.FailuresToOpen) wait = options.RetryDelay;
        else
        {
            wait = openFor;
            openFor = TimeSpan.FromTicks(Math.Min(openFor.Ticks * 2, options.MaxOpenFor.Ticks));
        }
        var state = failed >= options.FailuresToOpen ? "circuit open; the run waits for it" : "retrying";
        log($"warning: reward service {url} unavailable ({problem}), attempt {failed}, {state}; next try in {wait.TotalSeconds:0.#} s");
        return wait;
    }

    void Recovered()
    {
        if (downSince is { } since)
            log($"reward service {url} is back after {Stopwatch.GetElapsedTime(since).TotalSeconds:0.#} s; the run continues");
        Volatile.Write(ref failures, 0);
        downSince = null;
        openFor = options.OpenFor;
    }

    static bool Transient(HttpStatusCode code) => (int)code >= 500 || code is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    /// <summary>The request body of <paramref name="items"/>.</summary>
    public static string Body(IReadOnlyList<RewardItem> items)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            var messages = new JsonArray();
            foreach (var m in item.Messages) messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
            array.Add(new JsonObject { ["messages"] = messages, ["response"] = item.Answer });
        }
        return new JsonObject { ["items"] = array }.ToJsonString();
    }

    /// <summary>The scores of an answer, clamped to ±<see cref="Clamp"/>.</summary>
    float[] Parse(string json, int count)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("scores", out var scores) || scores.ValueKind != JsonValueKind.Array)
                throw new RewardProtocolException($"reward service {url}: the answer has no \"scores\" array (README: reward protocol)");
            if (scores.GetArrayLength() != count)
                throw new RewardProtocolException($"reward service {url}: {scores.GetArrayLength()} scores for {count} items");
            var result = new float[count];
            var i = 0;
            foreach (var s in scores.EnumerateArray())
            {
                if (s.ValueKind != JsonValueKind.Number || !double.IsFinite(s.GetDouble()))
                    throw new RewardProtocolException($"reward service {url}: scores[{i}] is not a finite number");
                result[i++] = (float)Math.Clamp(s.GetDouble(), -Clamp, Clamp);
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new RewardProtocolException($"reward service {url}: the answer is not JSON ({e.Message})");
        }
    }

    public void Dispose() => http.Dispose();
}
