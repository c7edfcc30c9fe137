using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniMind.Cluster.Control;
using Xunit;

namespace MiniMind.Cluster.Tests.Control;

/// <summary>Cross-site requests to the control endpoint (issue 13 item 5): the guard in front of a state-changing route,
/// asked by raw HTTP (the hostile trial's curl) and by a real page in headless Chromium.</summary>
public sealed class CrossSiteGuardTests
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    /// <summary>A control-endpoint pipeline (token, guard) with a stand-in stop route that counts what reaches it, and a
    /// page of its own that stops the run the way the dashboard would (same origin, JSON).</summary>
    sealed class Endpoint : IAsyncDisposable
    {
        readonly WebApplication app;
        int stops, arrived;
        public string Url { get; }
        public int Stops => Volatile.Read(ref stops);
        /// <summary>Requests to the stop route that reached the endpoint at all (before the guard).</summary>
        public int Arrived => Volatile.Read(ref arrived);

        Endpoint(WebApplication app, string url) => (this.app, Url) = (app, url);

        public static async Task<Endpoint> StartAsync(string? token = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            Endpoint? self = null;
            app.Use(async (ctx, next) =>
            {
                if (ctx.Request.Path == "/api/train/stop") Interlocked.Increment(ref self!.arrived);
                await next(ctx);
            });
            app.UseControlToken(token);
            app.UseCrossSiteGuard(token);
            app.MapPost("/api/train/stop", () =>
            {
                Interlocked.Increment(ref self!.stops);
                return Results.Json(new { status = "stopping" });
            });
            app.MapGet("/own", () => Results.Content(Page("", "same-origin JSON"), "text/html"));
            await app.StartAsync();
            var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return self = new Endpoint(app, url);
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>A page that POSTs to <paramref name="target"/>/api/train/stop three ways — a "simple" no-cors text/plain
    /// POST (no preflight), a JSON fetch (preflighted) and a form — and writes what each did into the DOM.</summary>
    static string Page(string target, string title) => $$"""
        <!doctype html><html><head><title>{{title}}</title></head><body><pre id="log"></pre>
        <iframe name="sink"></iframe>
        <form id="f" method="POST" action="{{target}}/api/train/stop" target="sink" enctype="text/plain"><input name="x" value="y"></form>
        <script>
        const log = t => document.getElementById('log').textContent += t + '\n';
        fetch('{{target}}/api/train/stop', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: 'x' })
          .then(r => log('plain: sent ' + r.type), e => log('plain: error ' + e));
        fetch('{{target}}/api/train/stop', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
          .then(r => log('json: ' + r.status), e => log('json: error ' + e));
        document.getElementById('f').submit();
        </script></body></html>
        """;

    static async Task<HttpStatusCode> Send(string url, string contentType, string? origin = null, string? host = null, string? site = null, string? token = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, url + "/api/train/stop") { Content = new StringContent("x", Encoding.UTF8) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (host is not null) request.Headers.Host = host;
        if (site is not null) request.Headers.Add("Sec-Fetch-Site", site);
        if (token is not null) request.Headers.Add(ControlAuth.HeaderName, token);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Cross_origin_text_and_rebound_requests_are_refused_and_json_from_ctl_or_the_own_origin_passes()
    {
        await using var ep = await Endpoint.StartAsync();
        var own = new Uri(ep.Url);
        // the hostile trial's curl: -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' --data x
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "text/plain", origin: "http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", origin: "http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", origin: "null"));
        // a page on another port of this machine is another origin too
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", origin: $"http://127.0.0.1:{own.Port + 1}"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", site: "cross-site"));
        // DNS rebinding: the right socket, someone else's name
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", host: $"evil.example:{own.Port}"));
        // no Origin, but not JSON: a form or a no-cors fetch could have sent it
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await Send(ep.Url, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, await Send(ep.Url, "application/x-www-form-urlencoded"));
        Assert.Equal(0, ep.Stops);
        Assert.Equal(8, ep.Arrived);

        // minimind ctl (JSON, no Origin) and the endpoint's own pages (same origin) pass
        Assert.Equal(HttpStatusCode.OK, await Send(ep.Url, "application/json"));
        Assert.Equal(HttpStatusCode.OK, await Send(ep.Url, "application/json; charset=utf-8", origin: $"http://{own.Authority}", site: "same-origin"));
        Assert.Equal(2, ep.Stops);
    }

    [Fact]
    public async Task With_a_token_any_host_may_call_but_a_foreign_origin_may_not()
    {
        await using var ep = await Endpoint.StartAsync(token: "s3cret");
        var port = new Uri(ep.Url).Port;
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(ep.Url, "application/json"));
        Assert.Equal(HttpStatusCode.OK, await Send(ep.Url, "text/plain", host: $"trainer.example:{port}", token: "s3cret"));
        Assert.Equal(HttpStatusCode.Forbidden, await Send(ep.Url, "application/json", origin: "http://evil.example", token: "s3cret"));
        Assert.Equal(1, ep.Stops);
    }

    [Fact]
    public async Task A_page_of_another_origin_cannot_stop_the_run_in_chromium_while_the_endpoints_own_page_can()
    {
        await using var ep = await Endpoint.StartAsync();

        // the hostile page, served from another port of this machine
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var evil = builder.Build();
        evil.MapGet("/", () => Results.Content(Page(ep.Url, "evil"), "text/html"));
        await evil.StartAsync();
        var evilUrl = evil.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var dom = Chromium.Run(evilUrl + "/", "--dump-dom", Patience);
        Assert.Contains("plain: sent opaque", dom);          // the browser sent it (the server's answer is opaque to the page)
        Assert.True(ep.Arrived >= 2, $"{ep.Arrived} requests of the page reached the endpoint");   // the test is not vacuous
        Assert.Equal(0, ep.Stops);

        // the same script from the endpoint's own origin (as the dashboard would) does stop it: JSON passes, text does not
        var own = Chromium.Run(ep.Url + "/own", "--dump-dom", Patience);
        Assert.Contains("json: 200", own);
        Assert.Equal(1, ep.Stops);
    }
}
